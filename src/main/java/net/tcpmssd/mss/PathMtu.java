package net.tcpmssd.mss;

import java.util.List;
import net.tcpmssd.os.ErrnoException;

/** --pmtu: per SYN, the smaller MTU of the routes toward its destination and back to its source. */
public record PathMtu() implements MssSource {

    @Override
    public List<String> option() {
        return List.of("--pmtu");
    }

    @Override
    public MssPolicy start(MssLog log) throws ErrnoException {
        return PathFollower.start(log);
    }
}
