package net.tcpmssd.lab;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Reads the IP packets of an Ethernet capture written by tcpdump -w (classic pcap format). */
public final class Pcap {

    private Pcap() {}

    public static List<byte[]> ipPackets(Path file) throws IOException {
        ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(file));
        int magic = in.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
            in.order(ByteOrder.BIG_ENDIAN);
        }
        int linkType = in.getInt(20);
        if (linkType != 1) {
            throw new IOException("not an Ethernet capture: link type " + linkType);
        }
        List<byte[]> packets = new ArrayList<>();
        int at = 24;
        while (at + 16 <= in.limit()) {
            int captured = in.getInt(at + 8);
            int original = in.getInt(at + 12);
            if (captured != original) {
                throw new IOException("capture truncated a packet: " + captured + " of " + original + " bytes");
            }
            packets.add(Arrays.copyOfRange(in.array(), at + 16 + 14, at + 16 + captured));
            at += 16 + captured;
        }
        return packets;
    }
}
