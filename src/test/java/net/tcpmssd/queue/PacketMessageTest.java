package net.tcpmssd.queue;

import static net.tcpmssd.netlink.Wire.attribute;
import static net.tcpmssd.netlink.Wire.be16;
import static net.tcpmssd.netlink.Wire.be32;
import static net.tcpmssd.netlink.Wire.concat;
import static net.tcpmssd.netlink.Wire.message;
import static net.tcpmssd.netlink.Wire.rawAttribute;
import static net.tcpmssd.netlink.Wire.u8;
import static net.tcpmssd.netlink.Wire.zeros;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import net.tcpmssd.netlink.Attributes;
import net.tcpmssd.netlink.Messages;
import org.junit.jupiter.api.Test;

/**
 * Reading NFQNL_MSG_PACKET messages (linux/netfilter/nfnetlink_queue.h): a packet is handed to the
 * handler only when its header and payload are whole; with an id but no usable payload it can
 * only be accepted unchanged; without a packet header of the right size no verdict can name it.
 */
class PacketMessageTest {

    private static final int MSG_PACKET = 3 << 8;
    private static final byte[] NFGENMSG = concat(u8(2), u8(0), be16(100));
    private static final byte[] SYN = concat(u8(0x45), zeros(39));

    private static byte[] packetHeader(int id, int hook) {
        return attribute(1, be32(id), be16(0x0800), u8(hook)); // struct nfqnl_msg_packet_hdr, 7 bytes
    }

    private final QueuedPacket packet = new QueuedPacket();
    private long limit;

    private int read(byte[]... body) {
        byte[] datagram = message(MSG_PACKET, 0, 0, concat(NFGENMSG, concat(body)));
        MemorySegment buffer = MemorySegment.ofArray(new byte[4096]);
        MemorySegment.copy(MemorySegment.ofArray(datagram), 0, buffer, 0, datagram.length);
        limit = buffer.byteSize();
        Messages m = new Messages().over(buffer, 0, datagram.length);
        assertThat(m.next()).isTrue();
        return NfQueue.readPacket(m, new Attributes(), packet, limit);
    }

    @Test
    void aWholePacketMessageGivesIdHookInterfacesAndPayload() {
        int read = read(packetHeader(0x01020304, QueuedPacket.FORWARD), attribute(5, be32(2)), attribute(6, be32(3)),
                attribute(10, SYN));
        assertThat(read).isEqualTo(NfQueue.WHOLE);
        assertThat(packet.id).isEqualTo(0x01020304);
        assertThat(packet.hook()).isEqualTo(QueuedPacket.FORWARD);
        assertThat(packet.inInterface()).isEqualTo(2);
        assertThat(packet.outInterface()).isEqualTo(3);
        assertThat(packet.length()).isEqualTo(SYN.length);
        assertThat(packet.offset()).isEqualTo(16 + 4 + 12 + 8 + 8 + 4);
        assertThat(packet.ipVersion()).isEqualTo(4);
        assertThat(packet.capacity()).isEqualTo(limit - packet.offset()); // last in its datagram: the room behind it
    }

    @Test
    void aPacketHeaderTooShortForTheHookIsNoId() {
        // 4 bytes: the id is there, the hook (byte 6) is not. No verdict can be trusted to name it.
        assertThat(read(attribute(1, be32(7)), attribute(10, SYN))).isEqualTo(NfQueue.NO_ID);
    }

    @Test
    void aMessageWithoutPacketHeaderIsNoId() {
        assertThat(read(attribute(10, SYN))).isEqualTo(NfQueue.NO_ID);
        assertThat(read()).isEqualTo(NfQueue.NO_ID);
    }

    @Test
    void anIdWithoutPayloadIsAcceptedUnchanged() {
        assertThat(read(packetHeader(9, QueuedPacket.FORWARD))).isEqualTo(NfQueue.ID_ONLY);
        assertThat(packet.id).isEqualTo(9);
        assertThat(packet.length()).isZero();
    }

    @Test
    void anIdWithAttributesThatBreakOffIsAcceptedUnchanged() {
        // The payload is whole, but what follows it lies about its length: the message is not one
        // the kernel writes, so the packet is not looked at.
        assertThat(read(packetHeader(9, QueuedPacket.FORWARD), attribute(10, SYN), rawAttribute(200, 6, be32(3))))
                .isEqualTo(NfQueue.ID_ONLY);
        assertThat(packet.id).isEqualTo(9);
    }

    @Test
    void aShortInterfaceIndexReadsAsNone() {
        assertThat(read(packetHeader(9, QueuedPacket.FORWARD), attribute(6, be16(3)), attribute(10, SYN)))
                .isEqualTo(NfQueue.WHOLE);
        assertThat(packet.outInterface()).isZero();
    }

    @Test
    void readingAPacketMessageAllocatesNothing() {
        // The packet path's rule (ARCHITECTURE.md): the walk and the cursor are reused objects.
        byte[] datagram = message(MSG_PACKET, 0, 0, concat(NFGENMSG, packetHeader(1, QueuedPacket.FORWARD),
                attribute(5, be32(2)), attribute(6, be32(3)), attribute(10, SYN)));
        MemorySegment buffer = MemorySegment.ofArray(datagram);
        Messages messages = new Messages();
        Attributes attributes = new Attributes();
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        int read = 0;
        for (int round = 0; round < 2; round++) { // the first round loads and links what the second uses
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 100_000; i++) {
                messages.over(buffer, 0, datagram.length);
                while (messages.next()) {
                    read += NfQueue.readPacket(messages, attributes, packet, datagram.length);
                }
            }
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            if (round == 1) {
                assertThat(allocated).as("bytes allocated by 100,000 reads").isLessThan(1024);
            }
        }
        assertThat(read).isEqualTo(2 * 100_000 * NfQueue.WHOLE);
    }

    @Test
    void aPayloadFollowedByMoreAttributesCannotGrow() {
        assertThat(read(packetHeader(9, QueuedPacket.FORWARD), attribute(10, SYN), attribute(6, be32(3))))
                .isEqualTo(NfQueue.WHOLE);
        assertThat(packet.capacity()).isEqualTo(SYN.length);
    }
}
