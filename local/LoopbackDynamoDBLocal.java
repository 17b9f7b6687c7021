import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local as its own main (ServerRunner) starts it, with two changes
 * (local/dynamodb.ts builds and runs this):
 * - it listens on 127.0.0.1 only: DynamoDB Local has no host option and its
 *   Jetty server binds every interface, so the connector's host is set before
 *   the start;
 * - it exits when its stdin closes: the Node process holds the other end, so
 *   however that process ends (a crash, SIGKILL) no DynamoDB Local is left behind.
 * It skips ServerRunner's telemetry set-up, so it sends nothing out either.
 */
public class LoopbackDynamoDBLocal {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server jetty = (Server) field.get(proxy);
    for (Connector connector : jetty.getConnectors()) {
      ((ServerConnector) connector).setHost("127.0.0.1");
    }
    Thread parentWatch = new Thread(() -> {
      try {
        while (System.in.read() != -1) {
          // Nothing is sent; only the end of the stream matters.
        }
      } catch (Exception ignored) {
        // A broken pipe means the same: the parent is gone.
      }
      Runtime.getRuntime().halt(0);
    });
    parentWatch.setDaemon(true);
    parentWatch.start();
    proxy.start();
  }
}
