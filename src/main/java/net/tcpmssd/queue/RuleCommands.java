package net.tcpmssd.queue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code --add-rules} and {@code --delete-rules}: the steps of a {@link Rules.Plan} run as the
 * printed script would run them, each program started with its own argv (no shell between), so
 * that what an operator reads in {@code --print-rules} is what tcpmssd does.
 *
 * <p>A program that fails ends the run with one line naming it and the first line of its stderr;
 * one that gives no answer within {@value #TIMEOUT_SECONDS} s (a lock held elsewhere, a hung
 * netlink socket) is killed and named the same way. The steps already done stay done: each is
 * idempotent, so running again after the cause is fixed finishes the job.
 */
public final class RuleCommands {

    static final int TIMEOUT_SECONDS = 30;
    /** More copies of one jump than anyone adds by hand: a removal that never ends is a bug told. */
    private static final int MAX_REMOVALS = 1000;
    /** Of a program's stderr, this much is read: its first lines are all a message needs. */
    private static final int STDERR_LIMIT = 8192;
    private static final Pattern SPAWN_ERROR = Pattern.compile("error[=:] ?\\d+,? \\(?([^()]+?)\\)?\\s*$");

    private RuleCommands() {}

    /** A firewall program failed or could not be started: the line to print after "tcpmssd: ". */
    public static final class Failure extends Exception {
        Failure(String message) {
            super(message, null, false, false);
        }
    }

    /** Runs every step in order; nothing for an empty plan (--attach). */
    public static void run(Rules.Plan plan) throws Failure {
        for (Rules.Step step : plan.steps()) {
            switch (step) {
                case Rules.Feed feed -> require(feed.argv(), feed.input());
                case Rules.Ensure ensure -> {
                    if (!succeeds(ensure.check())) {
                        require(ensure.add(), "");
                    }
                }
                case Rules.RemoveAll remove -> {
                    int removed = 0;
                    while (succeeds(remove.check())) {
                        if (++removed > MAX_REMOVALS) {
                            throw new Failure(String.join(" ", remove.delete()) + ": still there after " + MAX_REMOVALS + " deletions");
                        }
                        require(remove.delete(), "");
                    }
                }
            }
        }
    }

    /** A check: true on exit status 0; any other status counts as "absent", as {@code ||} in sh. */
    private static boolean succeeds(List<String> argv) throws Failure {
        return execute(argv, "").status() == 0;
    }

    private static void require(List<String> argv, String input) throws Failure {
        Outcome outcome = execute(argv, input);
        if (outcome.status() != 0) {
            throw new Failure(String.join(" ", argv) + ": " + (outcome.message().isEmpty()
                    ? "exit status " + outcome.status() : outcome.message()));
        }
    }

    private record Outcome(int status, String message) {}

    private static Outcome execute(List<String> argv, String input) throws Failure {
        Process process;
        try {
            process = new ProcessBuilder(argv).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            // The JDK's cause reads "error=2, No such file or directory" or "Exec failed, error: 2 (No
            // such file or directory)", by how it starts processes: the reason alone is told.
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            String message = String.valueOf(cause.getMessage());
            Matcher reason = SPAWN_ERROR.matcher(message);
            throw new Failure("can't run " + argv.getFirst() + ": " + (reason.find() ? reason.group(1) : message.strip()));
        }
        // stderr is read beside the wait, so that a program writing much cannot block on a full pipe.
        FutureTask<String> stderr = new FutureTask<>(() -> firstLine(process.getErrorStream()));
        Thread.ofVirtual().start(stderr);
        try (OutputStream stdin = process.getOutputStream()) {
            stdin.write(input.getBytes(StandardCharsets.UTF_8)); // a few hundred bytes: within any pipe's buffer
        } catch (IOException e) {
            // It exited without reading its input: its status and stderr say why.
        }
        try {
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new Failure(String.join(" ", argv) + ": no answer within " + TIMEOUT_SECONDS + " s");
            }
            return new Outcome(process.exitValue(), message(stderr));
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new Failure(String.join(" ", argv) + ": interrupted");
        }
    }

    private static String message(Future<String> stderr) throws InterruptedException {
        try {
            return stderr.get(1, TimeUnit.SECONDS); // the program has exited: its stderr is closed
        } catch (ExecutionException | TimeoutException e) {
            return ""; // a child of it still holds stderr open: the status alone is told
        }
    }

    /**
     * The first line with something in it; when it only introduces the next (iptables-restore
     * writes "iptables-restore v1.8.9 (nf_tables): " and the error on the following line), the
     * two joined. Control characters become spaces: the message stays one line.
     */
    static String firstLine(InputStream in) throws IOException {
        String text = new String(in.readNBytes(STDERR_LIMIT), StandardCharsets.UTF_8);
        in.transferTo(OutputStream.nullOutputStream());
        List<String> lines = text.lines().map(l -> l.replaceAll("\\p{Cntrl}", " ").strip()).filter(l -> !l.isEmpty()).toList();
        if (lines.isEmpty()) {
            return "";
        }
        String first = lines.getFirst();
        return first.endsWith(":") && lines.size() > 1 ? first + " " + lines.get(1) : first;
    }
}
