package net.tcpmssd;

import net.tcpmssd.cli.Options;
import net.tcpmssd.cli.UsageException;
import net.tcpmssd.daemon.Daemon;
import net.tcpmssd.daemon.Detach;
import net.tcpmssd.daemon.JournalStream;
import net.tcpmssd.daemon.Fatal;
import net.tcpmssd.daemon.Log;
import net.tcpmssd.daemon.Privileges;
import net.tcpmssd.daemon.StartupException;
import net.tcpmssd.daemon.Syslog;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.queue.AppliedRules;
import net.tcpmssd.queue.RuleCommands;
import net.tcpmssd.queue.Rules;

/** Entry point: parse, run, and turn every failure into one line on stderr and an exit status. */
public final class Main {

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        try {
            Options options = Options.parse(args);
            switch (options.action()) {
                case HELP -> System.out.print(Options.help());
                case VERSION -> System.out.println("tcpmssd " + version());
                case PRINT_RULES, PRINT_DELETE_RULES -> System.out.print(Rules.print(options));
                case ADD_RULES -> AppliedRules.add(options, AppliedRules.withoutAction(args));
                case DELETE_RULES -> AppliedRules.delete(options);
                case RUN -> {
                    return runDaemon(options, args);
                }
            }
            return 0;
        } catch (UsageException e) {
            error(e.line());
            return 1;
        } catch (RuleCommands.Failure e) {
            error("tcpmssd: " + e.getMessage());
            return 1;
        } catch (StartupException e) {
            error("tcpmssd: " + e.getMessage());
            return 1;
        } catch (Throwable t) {
            // A bug, not an operator's mistake: still one line, never a trace (BEHAVIOUR §1).
            error("tcpmssd: internal error: " + t);
            return 70; // EX_SOFTWARE, sysexits(3)
        }
    }

    /** In the foreground, or detached (BEHAVIOUR §5): see {@link Detach} for how a JVM detaches. */
    private static int runDaemon(Options options, String[] args) throws Exception {
        try {
            Privileges.dropUnneeded(options); // before anything else: the detached child is started with what is left
        } catch (ErrnoException e) {
            // Hardening only (a seccomp filter may refuse capset): the daemon runs as it would have.
            System.err.println(JournalStream.prefix(JournalStream.WARNING) + "tcpmssd: warning: can't drop the capabilities"
                    + " this data path does not need: " + e.getMessage());
        }
        boolean child = options.detaches() && Detach.isChild();
        if (options.detaches() && !child) {
            return Detach.startChild(args);
        }
        if (child) {
            Detach.enterNewSession();
        }
        Log log = options.detaches() ? Syslog.open() : Log.toStderr();
        Fatal.install(options.detaches()); // a thread that dies ends the daemon, never leaves a queue unserved
        new Daemon(options, log, child ? Main::detachedReady : () -> { }).run();
        return 0;
    }

    /**
     * Started and about to let go of the terminal: the last moment to say that no syslog daemon
     * will hear what the detached daemon logs (then only LOG_CONS's /dev/console might).
     */
    private static void detachedReady() throws ErrnoException {
        String reason = Syslog.unreachable();
        if (reason != null) {
            System.err.println(JournalStream.prefix(JournalStream.WARNING) + "tcpmssd: warning: no syslog daemon at /dev/log ("
                    + reason + "): the detached daemon's messages go to /dev/console at best; run it with --foreground under a"
                    + " supervisor, or start a syslog daemon");
        }
        Detach.ready();
    }

    /** An error line on stderr, with the journal's error priority when stderr is the journal. */
    private static void error(String line) {
        System.err.println(JournalStream.prefix(JournalStream.ERROR) + line);
    }

    static String version() {
        String version = Main.class.getPackage().getImplementationVersion();
        return version == null ? "development" : version;
    }
}
