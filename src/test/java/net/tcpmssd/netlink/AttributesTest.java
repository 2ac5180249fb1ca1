package net.tcpmssd.netlink;

import static net.tcpmssd.netlink.Wire.attribute;
import static net.tcpmssd.netlink.Wire.be16;
import static net.tcpmssd.netlink.Wire.be32;
import static net.tcpmssd.netlink.Wire.concat;
import static net.tcpmssd.netlink.Wire.rawAttribute;
import static net.tcpmssd.netlink.Wire.segment;
import static net.tcpmssd.netlink.Wire.text;
import static net.tcpmssd.netlink.Wire.u16;
import static net.tcpmssd.netlink.Wire.u32;
import static net.tcpmssd.netlink.Wire.u8;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The attribute cursor: what it reads of well-formed attributes, and what it refuses to read. */
class AttributesTest {

    private static Attributes over(byte[] bytes) {
        MemorySegment m = segment(bytes);
        return new Attributes().over(m, 0, m.byteSize());
    }

    @Test
    void readsEachWidthInItsByteOrder() {
        Attributes a = over(concat(
                attribute(1, u8(0xfe)),
                attribute(2, u16(0xbeef)),
                attribute(3, u32(0xcafe_f00d)),
                attribute(4, be16(0x1234)),
                attribute(5, be32(0x89ab_cdef)),
                attribute(6, text("ppp0"))));
        assertThat(a.next()).isTrue();
        assertThat(a.type()).isEqualTo(1);
        assertThat(a.u8(0)).isEqualTo(0xfe);
        assertThat(a.next()).isTrue();
        assertThat(a.u16(0)).isEqualTo(0xbeef);
        assertThat(a.next()).isTrue();
        assertThat(a.u32(0)).isEqualTo(0xcafe_f00d);
        assertThat(a.next()).isTrue();
        assertThat(a.be16(0)).isEqualTo(0x1234);
        assertThat(a.next()).isTrue();
        assertThat(a.be32(0)).isEqualTo(0x89ab_cdef);
        assertThat(a.next()).isTrue();
        assertThat(a.string()).isEqualTo("ppp0");
        assertThat(a.length()).isEqualTo(5);
        assertThat(a.next()).isFalse();
        assertThat(a.broken()).isFalse();
        assertThat(a.truncated()).isFalse();
    }

    @Test
    void aShortPayloadReadsAsZeroAndSaysSoWithoutReadingItsNeighbour() {
        // A "u32" of two bytes, then an attribute whose header those two bytes would run into.
        Attributes a = over(concat(attribute(4, u16(0x0578)), attribute(7, u32(-1))));
        assertThat(a.next()).isTrue();
        assertThat(a.length()).isEqualTo(2);
        assertThat(a.u32(0)).isZero();
        assertThat(a.truncated()).isTrue();
        assertThat(a.u16(0)).isEqualTo(0x0578); // still true, and the flag stays for this attribute
        assertThat(a.truncated()).isTrue();
        assertThat(a.next()).isTrue();          // the next one is whole, and starts clean
        assertThat(a.truncated()).isFalse();
        assertThat(a.type()).isEqualTo(7);
        assertThat(a.u32(0)).isEqualTo(-1);
    }

    @Test
    void aReadAtAnOffsetMustFitWhole() {
        Attributes a = over(attribute(1, be32(42), be16(0x0800), u8(3))); // nfqnl_msg_packet_hdr, 7 bytes
        a.next();
        assertThat(a.u8(6)).isEqualTo(3);
        assertThat(a.truncated()).isFalse();
        assertThat(a.be32(4)).isZero();     // bytes 4..7: one past the payload
        assertThat(a.truncated()).isTrue();
        a.next();
        Attributes b = over(attribute(1, be32(42)));
        b.next();
        assertThat(b.u8(6)).isZero();
        assertThat(b.truncated()).isTrue();
        assertThat(b.u8(-1)).isZero();
    }

    @Test
    void anAttributeLongerThanItsRegionEndsTheWalk() {
        // The second claims 12 bytes where 8 are left: nothing of it, nor after it, is read.
        byte[] bytes = concat(attribute(1, u32(1)), rawAttribute(12, 2, u32(2)));
        Attributes a = over(bytes);
        assertThat(a.next()).isTrue();
        assertThat(a.next()).isFalse();
        assertThat(a.broken()).isTrue();
        assertThat(a.length()).isZero();
        assertThat(a.next()).isFalse();
    }

    @Test
    void aRegionIsItsEndEvenIfTheSegmentGoesOn() {
        // Within a message, the bytes after it are another message's: an attribute must not reach them.
        byte[] bytes = concat(rawAttribute(12, 1, u32(1)), u32(2), u32(3));
        MemorySegment m = segment(bytes);
        Attributes a = new Attributes().over(m, 0, 8);
        assertThat(a.next()).isFalse();
        assertThat(a.broken()).isTrue();
    }

    @Test
    void aLengthBelowTheHeaderEndsTheWalkInsteadOfLoopingOnIt() {
        for (int length : new int[] {0, 1, 3}) {
            Attributes a = over(concat(rawAttribute(length, 1), u32(5), attribute(2, u32(9))));
            assertThat(a.next()).as("nla_len %d", length).isFalse();
            assertThat(a.broken()).isTrue();
        }
    }

    @Test
    void anEmptyPayloadIsAnAttributeWithNothingToRead() {
        Attributes a = over(concat(attribute(1), attribute(2, u32(7))));
        assertThat(a.next()).isTrue();
        assertThat(a.length()).isZero();
        assertThat(a.u8(0)).isZero();
        assertThat(a.truncated()).isTrue();
        assertThat(a.string()).isEmpty();
        assertThat(a.next()).isTrue();
        assertThat(a.u32(0)).isEqualTo(7);
    }

    @Test
    void lengthsThatAreNoMultipleOfFourArePaddedAndTheLastMayLackItsPadding() {
        // 5-byte payload (length 9, padded to 12), then a 1-byte one that ends the region unpadded.
        byte[] bytes = concat(attribute(1, text("eth0")), rawAttribute(5, 2, u8(0x2a)));
        assertThat(bytes.length).isEqualTo(12 + 5);
        Attributes a = over(bytes);
        assertThat(a.next()).isTrue();
        assertThat(a.length()).isEqualTo(5);
        assertThat(a.string()).isEqualTo("eth0");
        assertThat(a.next()).isTrue();
        assertThat(a.offset()).isEqualTo(16);
        assertThat(a.u8(0)).isEqualTo(0x2a);
        assertThat(a.next()).isFalse();
        assertThat(a.broken()).isFalse();
    }

    @Test
    void aHeaderCutByTheRegionsEndIsBroken() {
        Attributes a = over(concat(attribute(1, u32(1)), u16(8)));
        assertThat(a.next()).isTrue();
        assertThat(a.next()).isFalse();
        assertThat(a.broken()).isTrue();
    }

    @Test
    void nestedAttributesAreWalkedWithinTheirNestOnly() {
        int nestedFlag = 0x8000;
        byte[] metrics = concat(attribute(2, u32(1400)), attribute(8, u32(3)));
        byte[] bytes = concat(attribute(8 | nestedFlag, metrics), attribute(4, u32(3)));
        Attributes outer = over(bytes);
        Attributes inner = new Attributes();
        assertThat(outer.next()).isTrue();
        assertThat(outer.type()).isEqualTo(8);
        assertThat(outer.markedNested()).isTrue();
        Attributes nest = outer.nested(inner);
        assertThat(nest.next()).isTrue();
        assertThat(nest.type()).isEqualTo(2);
        assertThat(nest.u32(0)).isEqualTo(1400);
        assertThat(nest.next()).isTrue();
        assertThat(nest.u32(0)).isEqualTo(3);
        assertThat(nest.next()).isFalse(); // not into the outer RTA_OIF that follows
        assertThat(nest.broken()).isFalse();
        assertThat(outer.next()).isTrue();
        assertThat(outer.markedNested()).isFalse();
        assertThat(outer.type()).isEqualTo(4);
    }

    @Test
    void aBrokenNestLeavesTheOuterWalkWhole() {
        byte[] bytes = concat(attribute(8, rawAttribute(40, 2, u32(1400))), attribute(4, u32(3)));
        Attributes outer = over(bytes);
        outer.next();
        Attributes nest = outer.nested(new Attributes());
        assertThat(nest.next()).isFalse();
        assertThat(nest.broken()).isTrue();
        assertThat(outer.next()).isTrue();
        assertThat(outer.u32(0)).isEqualTo(3);
    }

    @Test
    void theTypeFlagsAreNotPartOfTheType() {
        Attributes a = over(attribute(0x4000 | 5, be32(1))); // NLA_F_NET_BYTEORDER
        a.next();
        assertThat(a.type()).isEqualTo(5);
        assertThat(a.markedNested()).isFalse();
    }

    @Test
    void aStringWithoutItsNulEndsWithItsPayload() {
        Attributes a = over(rawAttribute(7, 3, "ppp".getBytes()));
        a.next();
        assertThat(a.string()).isEqualTo("ppp");
    }

    @Test
    void anInvertedRegionHasNoAttributesAndIsBrokenButAnEmptyOneIsWhole() {
        MemorySegment m = segment(attribute(1, u32(1)));
        Attributes a = new Attributes().over(m, 8, 4);
        assertThat(a.next()).isFalse();
        assertThat(a.broken()).isTrue();
        // A message of its fixed header and no attributes (an RTM_DELLINK may carry none) is whole.
        a.over(m, 8, 8);
        assertThat(a.next()).isFalse();
        assertThat(a.broken()).isFalse();
    }

    @Test
    void aNewWalkForgetsTheLastOne() {
        Attributes a = over(rawAttribute(40, 1));
        a.next();
        assertThat(a.broken()).isTrue();
        MemorySegment m = segment(attribute(1, u32(1)));
        a.over(m, 0, m.byteSize());
        assertThat(a.broken()).isFalse();
        assertThat(a.next()).isTrue();
    }

    @Test
    void eachWidthIsReadAtItsOffsetInThePayload() {
        // struct-like payloads (nfqnl_msg_packet_hdr, rtnl_link_stats) hold fields after the first.
        Attributes a = over(attribute(1, u32(0), u16(0xbeef), be16(0x1234), u32(0xcafe_f00d), be32(0x89ab_cdef)));
        a.next();
        assertThat(a.u16(4)).isEqualTo(0xbeef);
        assertThat(a.be16(6)).isEqualTo(0x1234);
        assertThat(a.u32(8)).isEqualTo(0xcafe_f00d);
        assertThat(a.be32(12)).isEqualTo(0x89ab_cdef);
        assertThat(a.truncated()).isFalse();
    }

    @Test
    void aSixteenBitReadPastThePayloadReadsNotTheBytesAfterIt() {
        // One byte of payload; what follows it (padding, or in a nest the next attribute) is not it.
        byte[] bytes = concat(rawAttribute(5, 1, u8(0x11)), u8(0x22), u8(0x33), u8(0x44), attribute(2, u32(-1)));
        Attributes a = over(bytes);
        a.next();
        assertThat(a.u16(0)).isZero();
        assertThat(a.truncated()).isTrue();
        Attributes b = over(bytes);
        b.next();
        assertThat(b.be16(0)).isZero();
        assertThat(b.truncated()).isTrue();
        assertThat(b.next()).isTrue();
        assertThat(b.u32(0)).isEqualTo(-1);
    }

    @Test
    void aNegativeOffsetReadsNothingBeforeThePayload() {
        // Before the payload lies the attribute's own header (length 8, type 0x0101): not a value.
        for (int at : new int[] {-1, -2, -4}) {
            Attributes a = over(attribute(0x0101, u32(7)));
            a.next();
            assertThat(a.u8(at)).as("u8(%d)", at).isZero();
            assertThat(a.truncated()).isTrue();
            a = over(attribute(0x0101, u32(7)));
            a.next();
            assertThat(a.u16(at)).as("u16(%d)", at).isZero();
            assertThat(a.truncated()).isTrue();
            a = over(attribute(0x0101, u32(7)));
            a.next();
            assertThat(a.u32(at)).as("u32(%d)", at).isZero();
            assertThat(a.truncated()).isTrue();
        }
    }

    @Test
    void aHeaderOfOneByteAtTheSegmentsEndIsNotRead() {
        // The region ends one byte into a header, and so do the bytes: reading nla_len would fail.
        byte[] bytes = concat(attribute(1, u32(1)), u8(8));
        Attributes a = over(bytes);
        assertThat(a.next()).isTrue();
        assertThat(a.next()).isFalse();
        assertThat(a.broken()).isTrue();
    }
}
