package io.interestgraph.launcher;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.Relationship;
import org.neo4j.graphdb.RelationshipType;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;

/**
 * Offline compaction of the local Neo4j: copies the live nodes, relationships, properties and
 * schema of the default database of one home into a fresh home.
 *
 * <p>Why: Neo4j keeps the bytes of deleted records in its store files (until the space is reused)
 * and in its transaction logs. An erasure that must leave no byte of a user on disk needs a store
 * written from the live graph only; {@code neo4j-admin database copy}, which does that, is an
 * Enterprise Edition command, and this project runs Community.
 *
 * <p>Usage: {@code CompactStore SOURCE_HOME TARGET_HOME}, both Neo4j homes (the folder holding
 * {@code data/}); the source must not be running. The target gets a fresh system database: the
 * launcher sets the password again at its next start. Prints one JSON line with the counts.
 */
public final class CompactStore {
  private static final int BATCH = 10_000;
  private static final long PAGE_CACHE_BYTES = 256L * 1024 * 1024;

  private CompactStore() {}

  public static void main(String[] args) {
    if (args.length != 2) {
      System.err.println("usage: CompactStore SOURCE_HOME TARGET_HOME");
      System.exit(2);
    }
    DatabaseManagementService from = open(Path.of(args[0]));
    DatabaseManagementService to = open(Path.of(args[1]));
    try {
      GraphDatabaseService source = from.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
      GraphDatabaseService target = to.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
      Map<Long, Long> nodeIds = copyNodes(source, target);
      long relationships = copyRelationships(source, target, nodeIds);
      int schema = copySchema(source, target);
      System.out.printf(
          "{\"nodes\": %d, \"relationships\": %d, \"schema_statements\": %d}%n",
          nodeIds.size(), relationships, schema);
    } finally {
      to.shutdown();
      from.shutdown();
    }
  }

  private static DatabaseManagementService open(Path home) {
    return new DatabaseManagementServiceBuilder(home.toAbsolutePath())
        .setConfig(GraphDatabaseSettings.pagecache_memory, PAGE_CACHE_BYTES)
        .build();
  }

  /** Every node with its labels and properties; returns old internal id → new internal id. */
  @SuppressWarnings("deprecation")
  private static Map<Long, Long> copyNodes(GraphDatabaseService source, GraphDatabaseService target) {
    Map<Long, Long> ids = new HashMap<>();
    copyInBatches(
        source,
        target,
        Transaction::getAllNodes,
        (node, write) -> {
          List<Label> labels = new ArrayList<>();
          node.getLabels().forEach(labels::add);
          Node copy = write.createNode(labels.toArray(new Label[0]));
          node.getAllProperties().forEach(copy::setProperty);
          ids.put(node.getId(), copy.getId());
        });
    return ids;
  }

  /** Every relationship with its type and properties, between the copied nodes. */
  @SuppressWarnings("deprecation")
  private static long copyRelationships(
      GraphDatabaseService source, GraphDatabaseService target, Map<Long, Long> nodeIds) {
    return copyInBatches(
        source,
        target,
        Transaction::getAllRelationships,
        (rel, write) -> {
          Node start = write.getNodeById(nodeIds.get(rel.getStartNodeId()));
          Node end = write.getNodeById(nodeIds.get(rel.getEndNodeId()));
          Relationship copy =
              start.createRelationshipTo(end, RelationshipType.withName(rel.getType().name()));
          rel.getAllProperties().forEach(copy::setProperty);
        });
  }

  /**
   * Reads every record of one kind in one source transaction and writes each copy into the
   * target, committing every {@link #BATCH} copies so no write transaction grows with the graph.
   * Returns how many were copied.
   */
  private static <T> long copyInBatches(
      GraphDatabaseService source,
      GraphDatabaseService target,
      Function<Transaction, Iterable<T>> records,
      BiConsumer<T, Transaction> copy) {
    long copied = 0;
    try (Transaction read = source.beginTx()) {
      Transaction write = target.beginTx();
      for (T record : records.apply(read)) {
        copy.accept(record, write);
        if (++copied % BATCH == 0) {
          write.commit();
          write = target.beginTx();
        }
      }
      write.commit();
      read.commit();
    }
    return copied;
  }

  /**
   * Constraints, then the indexes no constraint owns (the token lookup indexes exist already),
   * each from the statement Neo4j itself gives for it; waits until every index is online.
   */
  private static int copySchema(GraphDatabaseService source, GraphDatabaseService target) {
    List<String> statements = new ArrayList<>();
    try (Transaction read = source.beginTx()) {
      collect(read, "SHOW CONSTRAINTS YIELD createStatement RETURN createStatement", statements);
      collect(
          read,
          "SHOW INDEXES YIELD type, owningConstraint, createStatement "
              + "WHERE owningConstraint IS NULL AND type <> 'LOOKUP' RETURN createStatement",
          statements);
      read.commit();
    }
    for (String statement : statements) {
      target.executeTransactionally(statement);
    }
    target.executeTransactionally("CALL db.awaitIndexes(3600)");
    return statements.size();
  }

  private static void collect(Transaction tx, String query, List<String> into) {
    try (Result result = tx.execute(query)) {
      result.forEachRemaining(row -> into.add((String) row.get("createStatement")));
    }
  }
}
