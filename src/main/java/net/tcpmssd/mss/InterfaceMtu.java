package net.tcpmssd.mss;

import java.util.List;
import net.tcpmssd.os.ErrnoException;

/** -i IFACE: the interface's MTU, read at start and followed as it changes (BEHAVIOUR §3). */
public record InterfaceMtu(String name) implements MssSource {

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
        return InterfaceFollower.start(name, log);
    }
}
