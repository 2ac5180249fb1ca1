package net.tcpmssd.mss;

import java.util.List;
import net.tcpmssd.os.ErrnoException;

/**
 * -i IFACE: the interface's MTU, read at start and followed as it changes (BEHAVIOUR §3). With
 * {@code waitForIt} (--wait-for-interface) a missing interface is waited for instead of refused:
 * a start at boot before the uplink exists (ppp0 comes with the PPPoE session).
 */
public record InterfaceMtu(String name, boolean waitForIt) implements MssSource {

    public InterfaceMtu(String name) {
        this(name, false);
    }

    @Override
    public List<String> option() {
        return List.of("-i", name);
    }

    @Override
    public String interfaceName() {
        return name;
    }

    @Override
    public MssPolicy start(MssLog log) throws ErrnoException, UnknownInterfaceException {
        return InterfaceFollower.start(name, waitForIt, log);
    }
}
