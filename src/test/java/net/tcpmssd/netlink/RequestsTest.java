package net.tcpmssd.netlink;

import static net.tcpmssd.netlink.Wire.concat;
import static net.tcpmssd.netlink.Wire.error;
import static net.tcpmssd.netlink.Wire.message;
import static net.tcpmssd.netlink.Wire.rawMessage;
import static net.tcpmssd.netlink.Wire.u32;
import static net.tcpmssd.netlink.Wire.zeros;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The request helper against a scripted socket: only the kernel's reply to this request answers it. */
class RequestsTest {

    private static final int RTM_NEWLINK = 16;
    private static final int RTM_GETLINK = 18;
    private static final int NLM_F_MULTI = 2;
    private static final int NLM_F_DUMP = 0x300;

    private final FakeKernel kernel = new FakeKernel();
    private final Requests requests = new Requests(kernel, MemorySegment.ofArray(new byte[512]),
            MemorySegment.ofArray(new byte[8192]), Duration.ofMillis(100));
    /** The first u32 of each reply's body, in the order given. */
    private final List<Integer> replies = new ArrayList<>();
    private final List<Integer> others = new ArrayList<>();

    private static byte[] link(int sequence, int flags, int marker) {
        return message(RTM_NEWLINK, flags, sequence, u32(marker), zeros(12));
    }

    private int ask(int flags) throws ErrnoException {
        requests.begin(RTM_GETLINK, flags).u32(0).u32(0).u32(0).u32(0);
        return requests.exchange("test", m -> replies.add(m.payloadU32(0)), m -> others.add(m.sequence()));
    }

    @Test
    void stampsEachRequestWithItsOwnSequenceNumberNeverZero() throws ErrnoException {
        kernel.answer(seq -> link(seq, 0, 1)).answer(seq -> link(seq, 0, 2));
        ask(0);
        int first = kernel.lastSequence();
        ask(0);
        assertThat(first).isNotZero();
        assertThat(kernel.lastSequence()).isEqualTo(first + 1);
        assertThat(kernel.sent.getFirst()[6] & Netlink.NLM_F_REQUEST).isEqualTo(Netlink.NLM_F_REQUEST);
        assertThat(replies).containsExactly(1, 2);
    }

    @Test
    void aMessageWithAnotherSequenceNumberIsNotTheAnswer() throws ErrnoException {
        // A late reply to an earlier request and a notification (sequence 0), then the answer.
        kernel.answer(seq -> concat(link(seq - 1, 0, 66), link(0, 0, 77))).answer(seq -> link(seq, 0, 1));
        assertThat(ask(0)).isZero();
        assertThat(replies).containsExactly(1);
        assertThat(others).hasSize(2).doesNotContain(kernel.lastSequence());
    }

    @Test
    void aDatagramFromAnotherPortThanTheKernelsIsDroppedUnread() throws ErrnoException {
        // A local process sent a reply with the right sequence number (and a refusal): neither counts.
        kernel.from(4242, seq -> concat(link(seq, 0, 66), error(seq, Libc.EPERM))).answer(seq -> link(seq, 0, 1));
        assertThat(ask(0)).isZero();
        assertThat(replies).containsExactly(1);
        assertThat(others).isEmpty();
        assertThat(requests.strangers()).isEqualTo(1);
    }

    /** A part that takes a while (the kernel fills each as we read), a part that comes after 60 ms. */
    private static byte[] slowly(byte[] part) {
        try {
            Thread.sleep(60);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return part;
    }

    @Test
    void theTimeoutIsBetweenTheDumpsPartsNotForTheWholeDump() throws ErrnoException {
        // Four parts 60 ms apart: 240 ms in all, more than the 100 ms timeout, never 100 ms idle
        // (a routing table of a few hundred thousand routes takes seconds to dump).
        kernel.answer(seq -> slowly(link(seq, NLM_F_MULTI, 1))).answer(seq -> slowly(link(seq, NLM_F_MULTI, 2)))
                .answer(seq -> slowly(link(seq, NLM_F_MULTI, 3)))
                .answer(seq -> slowly(message(Netlink.NLMSG_DONE, NLM_F_MULTI, seq, u32(0))));
        assertThat(ask(NLM_F_DUMP)).isZero();
        assertThat(replies).containsExactly(1, 2, 3);
    }

    @Test
    void theFlagsOfTheMessageThatEndsTheDumpAreKept() throws ErrnoException {
        // NLM_F_DUMP_INTR on the NLMSG_DONE alone: the table changed after the last part.
        int dumpInterrupted = 0x10;
        kernel.answer(seq -> link(seq, NLM_F_MULTI, 1))
                .answer(seq -> message(Netlink.NLMSG_DONE, NLM_F_MULTI | dumpInterrupted, seq, u32(0)));
        assertThat(ask(NLM_F_DUMP)).isZero();
        assertThat(requests.closingFlags() & dumpInterrupted).isEqualTo(dumpInterrupted);
        kernel.answer(seq -> link(seq, NLM_F_MULTI, 2)).answer(seq -> message(Netlink.NLMSG_DONE, NLM_F_MULTI, seq, u32(0)));
        assertThat(ask(NLM_F_DUMP)).isZero();
        assertThat(requests.closingFlags() & dumpInterrupted).as("the next dump's own").isZero();
    }

    @Test
    void aDumpIsReadPartByPartUntilItsDone() throws ErrnoException {
        kernel.answer(seq -> concat(link(seq, NLM_F_MULTI, 1), link(seq, NLM_F_MULTI, 2)))
                .answer(seq -> concat(link(seq, NLM_F_MULTI, 3), message(Netlink.NLMSG_DONE, NLM_F_MULTI, seq, u32(0))))
                .answer(seq -> link(seq, 0, 99)); // never read: the dump was done
        assertThat(ask(NLM_F_DUMP)).isZero();
        assertThat(replies).containsExactly(1, 2, 3);
        assertThat(kernel.receives).isEqualTo(2);
    }

    @Test
    void aDumpThatFailsSaysWhy() throws ErrnoException {
        kernel.answer(seq -> concat(link(seq, NLM_F_MULTI, 1), message(Netlink.NLMSG_DONE, NLM_F_MULTI, seq, u32(-Libc.EBUSY))));
        assertThat(ask(NLM_F_DUMP)).isEqualTo(Libc.EBUSY);
    }

    @Test
    void aRefusalIsReturnedAsItsErrno() throws ErrnoException {
        kernel.answer(seq -> error(seq, Libc.ENODEV));
        assertThat(ask(0)).isEqualTo(Libc.ENODEV);
        assertThat(replies).isEmpty();
    }

    @Test
    void anAcknowledgedRequestWaitsForTheAckAfterItsReply() throws ErrnoException {
        kernel.answer(seq -> link(seq, 0, 1)).answer(seq -> error(seq, 0));
        assertThat(ask(Netlink.NLM_F_ACK)).isZero();
        assertThat(replies).containsExactly(1);
        assertThat(kernel.receives).isEqualTo(2);
    }

    @Test
    void anErrorMessageTooShortForItsErrnoIsReportedNotRead() {
        kernel.answer(seq -> rawMessage(Netlink.HEADER + 2, Netlink.NLMSG_ERROR, 0, seq, new byte[] {(byte) 0xed, (byte) 0xff}));
        assertThatThrownBy(() -> ask(Netlink.NLM_F_ACK))
                .isInstanceOfSatisfying(ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(Libc.EBADMSG))
                .hasMessageStartingWith("test: ");
    }

    @Test
    void aReplyCutShortIsReportedNotWaitedFor() {
        kernel.answer(seq -> rawMessage(400, RTM_NEWLINK, 0, seq, zeros(48)));
        assertThatThrownBy(() -> ask(0))
                .isInstanceOfSatisfying(ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(Libc.EBADMSG));
        assertThat(replies).isEmpty();
    }

    @Test
    @Timeout(value = 5, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a wait without end fails, not hangs
    void noAnswerEndsInATimeout() {
        // Notifications keep coming (each receive returns one), but none answers: the deadline holds.
        for (int i = 0; i < 1000; i++) {
            kernel.answer(seq -> link(0, 0, 5));
        }
        long start = System.nanoTime();
        assertThatThrownBy(() -> ask(0))
                .isInstanceOfSatisfying(ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(Libc.ETIMEDOUT))
                .hasMessageStartingWith("test: no reply");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(100), Duration.ofSeconds(2));
    }

    @Test
    @Timeout(value = 5, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a wait without end fails, not hangs
    void silenceEndsInATimeout() {
        assertThatThrownBy(() -> ask(0))
                .isInstanceOfSatisfying(ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(Libc.ETIMEDOUT));
        assertThat(kernel.receives).isGreaterThan(1); // the socket's timeout is not the request's
        assertThat(requests.strangers()).as("a receive timeout is no datagram from a stranger").isZero();
    }

    @Test
    void theSequenceNumberWrapsFromItsMaximumToOneNeverZeroNorNegative() throws Exception {
        // As after 2^31 - 2 requests: set the counter there rather than make them (a long-lived
        // daemon does reach it). 0 is what the kernel's notifications carry.
        java.lang.reflect.Field counter = Requests.class.getDeclaredField("sequence");
        counter.setAccessible(true);
        counter.setInt(requests, Integer.MAX_VALUE - 1);
        kernel.answer(seq -> link(seq, 0, 1)).answer(seq -> link(seq, 0, 2));
        ask(0);
        assertThat(kernel.lastSequence()).isEqualTo(Integer.MAX_VALUE);
        ask(0);
        assertThat(kernel.lastSequence()).isEqualTo(1);
        assertThat(replies).containsExactly(1, 2);
    }

    @Test
    void theRequestSentIsOneWholePaddedMessage() throws ErrnoException {
        kernel.answer(seq -> link(seq, 0, 1));
        requests.begin(RTM_GETLINK, 0).u32(0).u8(7);
        requests.exchange("test", m -> replies.add(m.payloadU32(0)), m -> others.add(m.sequence()));
        byte[] sent = kernel.sent.getFirst();
        assertThat(sent).hasSize(Netlink.HEADER + 8);
        assertThat(Netlink.wholeMessageLength(MemorySegment.ofArray(sent), 0, sent.length)).isEqualTo(sent.length);
    }

    @Test
    void aDoneWithoutAnErrnoEndsTheDumpAsDone() throws ErrnoException {
        // Kernels before 4.x may send NLMSG_DONE with no int, or one that is no negated errno.
        kernel.answer(seq -> concat(link(seq, NLM_F_MULTI, 1), message(Netlink.NLMSG_DONE, NLM_F_MULTI, seq)));
        assertThat(ask(NLM_F_DUMP)).isZero();
        kernel.answer(seq -> concat(link(seq, NLM_F_MULTI, 2), message(Netlink.NLMSG_DONE, NLM_F_MULTI, seq, u32(24))));
        assertThat(ask(NLM_F_DUMP)).isZero();
        assertThat(replies).containsExactly(1, 2);
    }
}
