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
 * {@value #CHILD} set to a marker naming the parent's pid, stdin on /dev/null, stderr inherited
 * and stdout a pipe, then waits. The child parses the command line where the user started it (a
 * relative --pidfile is made absolute there), then calls setsid(2) (a new session: no
 * controlling terminal, no SIGHUP when the terminal goes) and chdir("/"), binds the queue, and when start-up has succeeded writes "ready" on the pipe and points
 * its stdio at /dev/null. The parent exits 0 on "ready"; if the child exits first, its error
 * line has already reached the terminal through the shared stderr and the parent exits with the
 * child's status. So every start-up error still reaches the terminal and the exit status.
 *
 * <p>The marker counts only in a process whose parent has the pid it names: a {@value #CHILD}
 * that a caller's environment passes on (a shell that exported it, a service manager's
 * environment file) does not stop the detach, and the parent always writes its own over it.
 */
public final class Detach {

    static final String CHILD = "TCPMSSD_DETACHED";
    private static final String READY = "ready";

    private Detach() {}

    public static boolean isChild() {
        long parent = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
        return isMarkerFor(System.getenv(CHILD), parent);
    }

    /** The marker a parent with this pid gives its child. */
    static String markerFor(long parentPid) {
        return "child-of-" + parentPid;
    }

    static boolean isMarkerFor(String marker, long parentPid) {
        return parentPid > 0 && markerFor(parentPid).equals(marker);
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
        ProcessBuilder builder = new ProcessBuilder(command) // in our directory: it reads the command line there
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.INHERIT);
        builder.environment().put(CHILD, markerFor(ProcessHandle.current().pid()));
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

    /** In the child, once the command line is read: leave the parent's session, terminal and directory. */
    public static void enterNewSession() throws ErrnoException {
        Libc.setsid();
        Libc.chdir("/"); // daemon(3): hold no directory busy
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
