package net.tcpmssd.daemon;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import net.tcpmssd.cli.MetricsAddress;
import net.tcpmssd.os.ErrnoException;
import net.tcpmssd.os.Libc;

/**
 * The little of HTTP/1.1 (RFC 9112) that a scrape needs, on one socket bound exactly to the
 * address given (BEHAVIOUR §8), served by one thread.
 *
 * <p>The socket is made here, not by the JDK: a JDK socket of the IPv6 family is always dual-stack
 * (it clears IPV6_V6ONLY, and offers no option to set it), so {@code [::]:9100} would take IPv4's
 * port too, and the JDK's HTTP server binds 0.0.0.0 as {@code ::}. Here an IPv4 address gets an
 * AF_INET socket and an IPv6 address an AF_INET6 socket with IPV6_V6ONLY.
 *
 * <p>Nobody who can reach the port can hold the scrape up: the thread never waits for one client.
 * It polls every connection at once, and each has {@link Limits#deadline} from its accept to send
 * its whole request head (at most {@link Limits#requestBytes}) and take the answer, else it is
 * closed; when {@link Limits#connections} are open, a new one closes the oldest. Each answer is
 * built and sent in one go, {@code Connection: close}: no keep-alive, no request bodies. Then
 * the connection is closed the lingering way (RFC 9112 §9.6): our half first, then what the
 * client still sends is read and dropped until it closes its half, so that unread bytes of a
 * long or refused request do not make the kernel reset the connection before the client has
 * read the answer.
 */
final class HttpListener implements AutoCloseable {

    /** What bounds the clients: connections open at once, bytes of a request head, time from accept to answered. */
    record Limits(int connections, int requestBytes, Duration deadline) {
        static final Limits DEFAULT = new Limits(16, 4096, Duration.ofSeconds(5));
    }

    record Request(String method, String target, String accept) {
        /** The target without its query: "/metrics?x=1" is "/metrics". */
        String path() {
            int query = target.indexOf('?');
            return query < 0 ? target : target.substring(0, query);
        }
    }

    record Response(int status, String contentType, byte[] body, String extraHeader) {
        static Response text(int status, String body) {
            return new Response(status, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8), null);
        }
    }

    @FunctionalInterface
    interface Handler {
        Response respond(Request request);
    }

    private static final int BACKLOG = 16;
    private static final int POLL_MILLIS = 200; // how soon close() is noticed
    private static final int IO_CHUNK = 16 * 1024;

    private final int listener;
    private final int port;
    private final Handler handler;
    private final Limits limits;
    private final Thread thread;
    private volatile boolean closed;

    private HttpListener(int listener, int port, Handler handler, Limits limits) {
        this.listener = listener;
        this.port = port;
        this.handler = handler;
        this.limits = limits;
        this.thread = Thread.ofPlatform().daemon().name("metrics-http").unstarted(this::run);
    }

    /** Binds and listens on the address, then serves on a daemon thread of its own. */
    static HttpListener start(MetricsAddress address, Handler handler, Limits limits) throws IOException {
        int fd = -1;
        try (Arena arena = Arena.ofConfined()) {
            fd = Libc.socket(address.ipv6() ? Libc.AF_INET6 : Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
            MemorySegment on = arena.allocateFrom(JAVA_INT, 1);
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, on); // a restart is not refused for TIME_WAIT
            if (address.ipv6()) {
                Libc.setsockopt(fd, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, on);
            }
            Libc.bind(fd, Libc.inetAddress(address.address(), address.port(), arena));
            Libc.listen(fd, BACKLOG);
            HttpListener server = new HttpListener(fd, Libc.boundPort(fd), handler, limits);
            server.thread.start();
            return server;
        } catch (ErrnoException e) {
            if (fd >= 0) {
                Libc.close(fd);
            }
            throw new IOException(e.reason(), e);
        }
    }

    int port() {
        return port;
    }

    /** Stops serving; on return every connection and the listening socket are closed. */
    @Override
    public void close() {
        closed = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One client: its request as it arrives, then its answer as it leaves. */
    private static final class Connection {
        final int fd;
        final long deadline;
        byte[] request;
        int received;
        byte[] response;
        int sent;
        boolean lingering; // answered and our half closed: reading until the client closes

        Connection(int fd, long deadline) {
            this.fd = fd;
            this.deadline = deadline;
        }
    }

    private void run() {
        List<Connection> open = new ArrayList<>(); // in the order accepted: the first is the oldest
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment polled = arena.allocate((long) Libc.POLLFD_SIZE * (limits.connections() + 1), 4);
            MemorySegment io = arena.allocate(IO_CHUNK);
            while (!closed) {
                List<Connection> watched = List.copyOf(open);
                setPollfd(polled, 0, listener, Libc.POLLIN);
                for (int i = 0; i < watched.size(); i++) {
                    Connection c = watched.get(i);
                    setPollfd(polled, i + 1, c.fd, c.response == null || c.lingering ? Libc.POLLIN : Libc.POLLOUT);
                }
                int ready;
                try {
                    ready = Libc.poll(polled, watched.size() + 1, timeoutMillis(open));
                } catch (ErrnoException e) {
                    continue; // EINTR; nothing else can fail with valid descriptors
                }
                if (ready > 0) {
                    for (int i = 0; i < watched.size(); i++) {
                        if (polled.get(JAVA_SHORT, (long) (i + 1) * Libc.POLLFD_SIZE + 6) != 0 && !serve(watched.get(i), io)) {
                            close(watched.get(i), open);
                        }
                    }
                    if (polled.get(JAVA_SHORT, 6) != 0) {
                        accept(open);
                    }
                }
                long now = System.nanoTime();
                for (Connection c : List.copyOf(open)) {
                    if (now - c.deadline > 0) {
                        close(c, open); // too slow to ask, or to take the answer
                    }
                }
            }
        } finally {
            for (Connection c : List.copyOf(open)) {
                close(c, open);
            }
            Libc.close(listener);
        }
    }

    private static void setPollfd(MemorySegment polled, int index, int fd, short events) {
        long at = (long) index * Libc.POLLFD_SIZE;
        polled.set(JAVA_INT, at, fd);
        polled.set(JAVA_SHORT, at + 4, events);
        polled.set(JAVA_SHORT, at + 6, (short) 0);
    }

    /** Until the next deadline, but at most {@value #POLL_MILLIS} ms. */
    private static int timeoutMillis(List<Connection> open) {
        long now = System.nanoTime();
        long millis = POLL_MILLIS;
        for (Connection c : open) {
            millis = Math.min(millis, Math.max(0, (c.deadline - now) / 1_000_000 + 1));
        }
        return (int) millis;
    }

    private void accept(List<Connection> open) {
        for (int i = 0; i < limits.connections(); i++) {
            int fd;
            try {
                fd = Libc.accept(listener, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC);
            } catch (ErrnoException e) {
                return; // EAGAIN: all taken; or the client left before we took it (ECONNABORTED)
            }
            if (open.size() == limits.connections()) {
                close(open.getFirst(), open); // the oldest has had the longest to ask
            }
            open.add(new Connection(fd, System.nanoTime() + limits.deadline().toNanos()));
        }
    }

    /** Reads or writes what the connection is ready for; false once it is done with. */
    private boolean serve(Connection c, MemorySegment io) {
        try {
            if (c.lingering) {
                return Libc.recvfrom(c.fd, io, IO_CHUNK, Libc.MSG_DONTWAIT, MemorySegment.NULL, MemorySegment.NULL) > 0; // dropped
            }
            if (c.response == null) {
                if (!read(c, io)) {
                    return false;
                }
                if (c.response == null) {
                    return true; // the head is not complete yet
                }
            }
            return write(c, io);
        } catch (ErrnoException e) {
            return e.errno() == Libc.EAGAIN; // EAGAIN: not ready after all; anything else ends it
        } catch (RuntimeException e) {
            return false; // a bug in one answer must not end the thread that serves them all
        }
    }

    /** Takes what has arrived; builds the answer once the head is complete. False if the client went. */
    private boolean read(Connection c, MemorySegment io) throws ErrnoException {
        if (c.request == null) {
            c.request = new byte[limits.requestBytes()];
        }
        int room = c.request.length - c.received;
        long got = Libc.recvfrom(c.fd, io, Math.min(room, IO_CHUNK), Libc.MSG_DONTWAIT, MemorySegment.NULL, MemorySegment.NULL);
        if (got == 0) {
            return false;
        }
        MemorySegment.copy(io, JAVA_BYTE, 0, c.request, c.received, (int) got);
        c.received += (int) got;
        int end = headEnd(c.request, c.received);
        if (end >= 0) {
            String head = new String(c.request, 0, end, StandardCharsets.ISO_8859_1);
            Request request = parse(head);
            c.response = request == null
                    ? bytes(Response.text(400, "400 Bad Request\n"), false)
                    : bytes(handler.respond(request), request.method().equals("HEAD"));
        } else if (c.received == c.request.length) {
            c.response = bytes(Response.text(431, "431 Request Header Fields Too Large: at most "
                    + limits.requestBytes() + " bytes\n"), false);
        }
        return true;
    }

    /** Sends what the socket takes; once all is sent, closes our half and lingers. */
    private static boolean write(Connection c, MemorySegment io) throws ErrnoException {
        while (c.sent < c.response.length) {
            int chunk = Math.min(IO_CHUNK, c.response.length - c.sent);
            MemorySegment.copy(c.response, c.sent, io, JAVA_BYTE, 0, chunk);
            long sent;
            try {
                sent = Libc.send(c.fd, io, chunk, Libc.MSG_DONTWAIT | Libc.MSG_NOSIGNAL);
            } catch (ErrnoException e) {
                if (e.errno() == Libc.EAGAIN) {
                    return true; // the rest when the socket has room
                }
                throw e;
            }
            c.sent += (int) sent;
        }
        Libc.shutdownWrite(c.fd);
        c.lingering = true;
        return true;
    }

    private static void close(Connection c, List<Connection> open) {
        if (open.remove(c)) {
            Libc.close(c.fd);
        }
    }

    /** Where the head ends (after its empty line, CRLF or a bare LF as RFC 9112 §2.2 allows), or -1. */
    static int headEnd(byte[] bytes, int length) {
        for (int i = 0; i + 1 < length; i++) {
            if (bytes[i] == '\n' && (bytes[i + 1] == '\n' || (bytes[i + 1] == '\r' && i + 2 < length && bytes[i + 2] == '\n'))) {
                return bytes[i + 1] == '\n' ? i + 2 : i + 3;
            }
        }
        return -1;
    }

    /** The request line and the Accept header; null if the head is not HTTP/1.x. */
    static Request parse(String head) {
        String[] lines = head.split("\r?\n");
        if (lines.length == 0) {
            return null; // nothing but empty lines
        }
        String[] requestLine = lines[0].split(" ", -1);
        if (requestLine.length != 3 || !requestLine[0].matches("[A-Z]+") || !requestLine[1].startsWith("/")
                || !requestLine[2].matches("HTTP/1\\.[01]")) {
            return null;
        }
        String accept = null;
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0 || Character.isWhitespace(lines[i].charAt(0))) {
                return null; // not a field, or obsolete line folding (RFC 9112 §5.2: reject)
            }
            if (lines[i].substring(0, colon).toLowerCase(Locale.ROOT).equals("accept")) {
                accept = lines[i].substring(colon + 1).strip();
            }
        }
        return new Request(requestLine[0], requestLine[1], accept);
    }

    private static byte[] bytes(Response response, boolean headOnly) {
        StringBuilder head = new StringBuilder()
                .append("HTTP/1.1 ").append(response.status()).append(' ').append(reason(response.status())).append("\r\n")
                .append("Content-Type: ").append(response.contentType()).append("\r\n")
                .append("Content-Length: ").append(response.body().length).append("\r\n")
                .append("Connection: close\r\n");
        if (response.extraHeader() != null) {
            head.append(response.extraHeader()).append("\r\n");
        }
        byte[] headBytes = head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
        if (headOnly) {
            return headBytes;
        }
        byte[] all = new byte[headBytes.length + response.body().length];
        System.arraycopy(headBytes, 0, all, 0, headBytes.length);
        System.arraycopy(response.body(), 0, all, headBytes.length, response.body().length);
        return all;
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 431 -> "Request Header Fields Too Large";
            default -> "Internal Server Error";
        };
    }
}
