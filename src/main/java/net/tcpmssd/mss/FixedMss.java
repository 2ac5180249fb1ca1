package net.tcpmssd.mss;

import java.util.List;
import net.tcpmssd.packet.MaxMss;

/** --set-mss MSS: one MSS for both IP versions, as iptables' TCPMSS --set-mss. */
public record FixedMss(int mss) implements MssSource {

    @Override
    public List<String> option() {
        return List.of("--set-mss", Integer.toString(mss));
    }

    @Override
    public MssPolicy start(MssLog log) {
        return new Fixed(new MaxMss(mss, mss), log);
    }
}
