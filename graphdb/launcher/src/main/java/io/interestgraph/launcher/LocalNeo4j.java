package io.interestgraph.launcher;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;

/**
 * Runs an embedded Neo4j Community DBMS with a Bolt connector on 127.0.0.1.
 *
 * <p>Usage: {@code LocalNeo4j HOME_DIR PORT}. The password for user {@code neo4j} is read from the
 * environment variable {@code INTERESTGRAPH_NEO4J_PASSWORD} (never from argv, which other users
 * can read with ps). It is applied only while the account still carries Neo4j's initial
 * "change required" password, so restarts keep whatever password the data directory already has.
 *
 * <p>Prints {@code READY bolt://127.0.0.1:PORT} once the DBMS is up. SIGTERM runs a shutdown hook
 * that calls {@link DatabaseManagementService#shutdown()}, so the store is closed cleanly.
 */
public final class LocalNeo4j {
  private LocalNeo4j() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: LocalNeo4j HOME_DIR PORT");
      System.exit(2);
    }
    Path home = Path.of(args[0]).toAbsolutePath();
    int port = Integer.parseInt(args[1]);
    String password = System.getenv("INTERESTGRAPH_NEO4J_PASSWORD");
    if (password == null || password.length() < 8) {
      System.err.println("INTERESTGRAPH_NEO4J_PASSWORD must be set (8 characters or more)");
      System.exit(2);
    }

    DatabaseManagementService dbms =
        new DatabaseManagementServiceBuilder(home)
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
            .setConfig(GraphDatabaseSettings.auth_enabled, true)
            .build();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  System.out.println("STOPPING");
                  System.out.flush();
                  dbms.shutdown();
                  stopped.countDown();
                },
                "neo4j-shutdown"));

    setInitialPassword(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
    System.out.println("READY bolt://127.0.0.1:" + port);
    System.out.flush();
    stopped.await();
  }

  /** Replaces the initial neo4j/neo4j credentials once; later starts leave the password alone. */
  private static void setInitialPassword(GraphDatabaseService system, String password) {
    boolean changeRequired;
    try (Transaction tx = system.beginTx();
        Result result =
            tx.execute("SHOW USERS YIELD user, passwordChangeRequired WHERE user = 'neo4j' "
                + "RETURN passwordChangeRequired")) {
      changeRequired = result.hasNext() && (Boolean) result.next().get("passwordChangeRequired");
      tx.commit();
    }
    if (changeRequired) {
      system.executeTransactionally(
          "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
          Map.of("password", password));
    }
  }
}
