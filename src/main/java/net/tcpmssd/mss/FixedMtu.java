package net.tcpmssd.mss;

import java.util.List;
import net.tcpmssd.packet.MaxMss;

/** -m MTU: the maximum for a fixed MTU (BEHAVIOUR §3). */
public record FixedMtu(int mtu) implements MssSource {

    @Override
    public List<String> option() {
        return List.of("-m", Integer.toString(mtu));
    }

    @Override
    public MssPolicy start(MssLog log) {
        return new Fixed(MaxMss.forMtu(mtu), log);
    }
}
