package net.tcpmssd.queue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import net.tcpmssd.cli.Options;
import net.tcpmssd.cli.UsageException;
import net.tcpmssd.daemon.OwnFile;
import net.tcpmssd.mss.InterfaceMtu;
import net.tcpmssd.os.Libc;
import net.tcpmssd.os.NetworkNamespace;

/**
 * {@code --add-rules} and {@code --delete-rules} with a memory: the options the rules of an
 * interface were added with, so that the rules removed are the ones in place, not the ones the
 * options now describe.
 *
 * <p>Why: systemd reads a unit's EnvironmentFile= afresh for every command it starts, so after
 * an operator edits /etc/tcpmssd/ppp0.conf (queue 100 to 200, iptables to nftables, or the queue
 * to --attach) a restart's ExecStopPost would delete the new options' rules and leave the old
 * ones; their jump, first in mangle, would then pass every SYN to a queue nobody reads, and
 * --queue-bypass would let it through unclamped. So --add-rules first removes the rules of the
 * options recorded for the interface if they differ, then adds, then records; --delete-rules
 * removes the recorded options' rules (the given ones' where there is no usable record), then
 * the record.
 *
 * <p>The record is /run/tcpmssd-rules/NETNS.iface.NAME (by the network namespace and the -i
 * interface; NETNS.queue.N without one): the option words, NUL-separated. The directory is root's own (0700; these actions run as root,
 * outside the unit's sandbox) and checked to be a directory of ours before use; files are
 * opened without following a link. A record that cannot be read or parsed is ignored: the given
 * options' rules are still handled. Two actions for one interface at once are not expected
 * (systemd runs a unit's commands one after another) and not serialized.
 */
public final class AppliedRules {

    static final Path DIRECTORY = Path.of("/run/tcpmssd-rules");
    private static final int MAX_SIZE = 64 * 1024;

    private final Path directory;

    AppliedRules(Path directory) {
        this.directory = directory;
    }

    /** --add-rules with these options, {@code words} the command line without the action. */
    public static void add(Options options, List<String> words) throws RuleCommands.Failure {
        new AppliedRules(DIRECTORY).addRules(options, words);
    }

    /** --delete-rules with these options. */
    public static void delete(Options options) throws RuleCommands.Failure {
        new AppliedRules(DIRECTORY).deleteRules(options);
    }

    /** The command line without its rule action: what is recorded. */
    public static List<String> withoutAction(String[] args) {
        return Arrays.stream(args).filter(a -> !a.equals("--add-rules") && !a.equals("--delete-rules")).toList();
    }

    void addRules(Options options, List<String> words) throws RuleCommands.Failure {
        Path record = record(options);
        List<String> before = record == null ? null : read(record);
        if (before != null && !before.equals(words)) {
            deleteRecorded(before, record);
        }
        Rules.Plan plan = Rules.plan(options, Rules.Change.ADD);
        RuleCommands.run(plan);
        if (record != null) {
            if (plan.steps().isEmpty()) {
                remove(record); // --attach: no rules, nothing to remember
            } else {
                write(record, words);
            }
        }
    }

    /**
     * With a record, what it records is what is in place, and only that is removed: the given
     * options may name a queue that another interface's daemon now uses (an operator moved this
     * one onto it), whose rules are not this interface's. Without one, the given options' rules.
     */
    void deleteRules(Options options) throws RuleCommands.Failure {
        Path record = record(options);
        List<String> before = record == null ? null : read(record);
        if (before == null || !deleteRecorded(before, record)) {
            RuleCommands.run(Rules.plan(options, Rules.Change.DELETE));
        }
        if (record != null) {
            remove(record);
        }
    }

    /**
     * Removes the rules of the recorded options; false if the record cannot be used (written by
     * another version, say), so that the given options' rules are removed instead. A removal
     * that fails (its firewall program gone since: nftables uninstalled) is told on one line and
     * passed over: a record whose rules can never go must not block every later action.
     */
    private static boolean deleteRecorded(List<String> words, Path record) {
        Options recorded;
        try {
            List<String> args = new ArrayList<>(words);
            args.add("--delete-rules");
            recorded = Options.parse(args.toArray(String[]::new));
        } catch (UsageException e) {
            return false;
        }
        try {
            RuleCommands.run(Rules.plan(recorded, Rules.Change.DELETE));
        } catch (RuleCommands.Failure e) {
            System.err.println("tcpmssd: warning: can't remove the rules recorded in " + record + ": " + e.getMessage());
        }
        return true;
    }

    /**
     * The record's path for these options, or null if they name neither an interface nor a
     * queue. Per network namespace (its inode), as the rules are: NETNS.iface.NAME, NETNS.queue.N.
     */
    private Path record(Options options) {
        String namespace = networkNamespace();
        if (namespace == null) {
            return null;
        }
        if (options.source() instanceof InterfaceMtu(String name, boolean waitForIt)) {
            return directory.resolve(namespace + ".iface." + name); // Linux allows no "/" in a name
        }
        return options.attach() == null ? directory.resolve(namespace + ".queue." + options.queue()) : null;
    }

    /** "4026531840" for the namespace this thread is in, or null if /proc cannot tell. */
    private static String networkNamespace() {
        try {
            return Long.toString(NetworkNamespace.current());
        } catch (IOException e) {
            return null; // no record: the given options' rules are still handled
        }
    }

    /** The recorded words, or null if there is no usable record. */
    private List<String> read(Path record) {
        byte[] bytes;
        try {
            bytes = OwnFile.read(record, MAX_SIZE + 1);
        } catch (IOException e) {
            return null; // none, or not ours to read
        }
        if (bytes.length > MAX_SIZE) {
            return null;
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        return text.isEmpty() ? List.of() : List.of(text.split("\0", -1));
    }

    private void write(Path record, List<String> words) throws RuleCommands.Failure {
        try {
            ownDirectory();
            OwnFile.replace(record, String.join("\0", words).getBytes(StandardCharsets.UTF_8), 0600, "rule record");
        } catch (IOException e) {
            throw new RuleCommands.Failure("can't record the rules' options in " + record + ": " + e.getMessage());
        }
    }

    private void remove(Path record) throws RuleCommands.Failure {
        try {
            Files.deleteIfExists(record);
        } catch (IOException e) {
            throw new RuleCommands.Failure("can't remove " + record + ": " + e.getMessage());
        }
    }

    /** The directory, made 0700 if missing; what is there must be a directory of ours that nobody else may write. */
    private void ownDirectory() throws IOException {
        try {
            Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (FileAlreadyExistsException e) {
            // checked below
        }
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(directory, LinkOption.NOFOLLOW_LINKS);
        int owner = (int) Files.getAttribute(directory, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS) || owner != Libc.geteuid()
                || mode.contains(PosixFilePermission.GROUP_WRITE) || mode.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IOException("not a directory of ours that only we may write");
        }
    }
}
