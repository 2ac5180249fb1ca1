package net.tcpmssd.daemon;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import net.tcpmssd.Main;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * Detaching like daemon(3), for a JVM that cannot fork.
 *
 * <p>The process the user started (the parent) starts the same program again (the child) with
 * {@value #CHILD} set, stdin on /dev/null, stderr inherited and stdout a pipe, then waits. The
 * child calls setsid(2) (a new session: no controlling terminal, no SIGHUP when the terminal
 * goes), binds the queue, and when start-up has succeeded writes "ready" on the pipe and points
 * its stdio at /dev/null. The parent exits 0 on "ready"; if the child exits first, its error
 * line has already reached the terminal through the shared stderr and the parent exits with the
 * child's status. So every start-up error still reaches the terminal and the exit status.
 */
public final class Detach {

    static final String CHILD = "TCPMSSD_DETACHED";
    private static final String READY = "ready";

    private Detach() {}

    public static boolean isChild() {
        return "1".equals(System.getenv(CHILD));
    }

    /** In the parent: start the child and return the status to exit with. */
    public static int startChild(String[] args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("--enable-native-access=ALL-UNNAMED"); // -jar's manifest grant does not carry over to -cp
        command.add("-cp");
        command.add(absoluteClassPath());
        command.add(Main.class.getName());
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(new File("/")) // daemon(3): hold no directory busy
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.INHERIT);
        builder.environment().put(CHILD, "1");
        Process child = builder.start();
        // Stopped while the child starts: pass the stop on, and report how the child ended.
        Signals.onTerminate(child::destroy);
        try (BufferedReader ready = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII))) {
            if (READY.equals(ready.readLine())) {
                return 0;
            }
        }
        return child.waitFor();
    }

    /** In the child, first thing: leave the parent's session and terminal. */
    public static void enterNewSession() throws ErrnoException {
        Libc.setsid();
    }

    /** In the child, once start-up succeeded: release the parent and let go of the terminal. */
    public static void ready() throws ErrnoException {
        System.out.println(READY);
        System.out.flush();
        Libc.stdioToDevNull();
    }

    private static String absoluteClassPath() {
        List<String> parts = new ArrayList<>();
        for (String part : System.getProperty("java.class.path").split(File.pathSeparator)) {
            parts.add(Path.of(part).toAbsolutePath().toString());
        }
        return String.join(File.pathSeparator, parts);
    }
}
