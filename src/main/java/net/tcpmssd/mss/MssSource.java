package net.tcpmssd.mss;

import java.util.List;
import net.tcpmssd.os.ErrnoException;

/**
 * Where the maximum MSS comes from: exactly one per daemon (BEHAVIOUR §1, §3), chosen on the
 * command line. Each source knows how an operator names it, and starts the {@link MssPolicy}
 * that answers the maximum while the daemon runs; nothing else needs to know which one it is.
 */
public sealed interface MssSource permits FixedMtu, FixedMss, InterfaceMtu, PathMtu {

    /** The option that chose it, as an operator types it, a word each: {@code -m 1492}, {@code -i ppp0}, ... */
    List<String> option();

    /** The interface it follows, or null: the pidfile is named after it (BEHAVIOUR §5), the rules match it. */
    default String interfaceName() {
        return null;
    }

    /**
     * Starts answering: reads what it needs now (an interface's MTU) and follows it from then on.
     * Lines for the log ({@code Maximum MSS: N} at each change, warnings) go to {@code log}.
     */
    MssPolicy start(MssLog log) throws ErrnoException, UnknownInterfaceException;
}
