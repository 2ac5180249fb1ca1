package net.tcpmssd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import net.tcpmssd.cli.MetricsAddress;
import net.tcpmssd.cli.UsageException;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.Outcome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The --metrics endpoint on loopback, scraped over real HTTP; no root needed. */
class MetricsServerTest {

    private static final MetricsAddress LOOPBACK_ANY_PORT = address("127.0.0.1:0");

    private final HttpClient http = HttpClient.newHttpClient();
    private final Counters first = new Counters();
    private final Counters second = new Counters();
    private final AtomicReference<MaxMss> maximum = new AtomicReference<>(MaxMss.forMtu(1280));
    private MetricsServer server;

    private static MetricsAddress address(String text) {
        try {
            return MetricsAddress.parse(text);
        } catch (UsageException e) {
            throw new AssertionError(e);
        }
    }

    @BeforeEach
    void start() throws IOException {
        server = MetricsServer.start(LOOPBACK_ANY_PORT, () -> List.of(first, second), maximum::get);
    }

    @AfterEach
    void stop() {
        server.close();
        http.close();
    }

    private HttpResponse<String> scrape(String accept) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics"));
        if (accept != null) {
            request.header("Accept", accept);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private List<String> samples() throws IOException, InterruptedException {
        HttpResponse<String> response = scrape(null);
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body().lines().filter(line -> !line.startsWith("#") && !line.isBlank()).toList();
    }

    @Test
    void servesTheCountersSummedOverTheQueuesInThePrometheusTextFormat() throws Exception {
        for (int i = 0; i < 3; i++) {
            first.count(4, Outcome.CLAMPED);
        }
        second.count(4, Outcome.CLAMPED);
        second.count(6, Outcome.CLAMPED);
        first.count(6, Outcome.MSS_SMALL_ENOUGH);
        second.count(6, Outcome.MSS_SMALL_ENOUGH);
        first.count(4, Outcome.NOT_SYN);
        second.count(17, Outcome.MALFORMED); // an unknown IP version counts as "other"
        first.overrun();
        second.overrun();
        second.overrun();

        HttpResponse<String> response = scrape(null);

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        assertThat(response.body().lines())
                .contains(
                        "# TYPE tcpmssd_packets_total counter",
                        "tcpmssd_packets_total{family=\"ipv4\",outcome=\"clamped\"} 4.0",
                        "tcpmssd_packets_total{family=\"ipv6\",outcome=\"clamped\"} 1.0",
                        "tcpmssd_packets_total{family=\"ipv6\",outcome=\"mss_small_enough\"} 2.0",
                        "tcpmssd_packets_total{family=\"ipv4\",outcome=\"not_syn\"} 1.0",
                        "tcpmssd_packets_total{family=\"other\",outcome=\"malformed\"} 1.0",
                        "tcpmssd_packets_total{family=\"ipv4\",outcome=\"no_mss_option\"} 0.0",
                        "tcpmssd_packets_total{family=\"other\",outcome=\"incoming\"} 0.0",
                        "# TYPE tcpmssd_receive_buffer_overruns_total counter",
                        "tcpmssd_receive_buffer_overruns_total 3.0",
                        "# TYPE tcpmssd_maximum_mss_bytes gauge",
                        "tcpmssd_maximum_mss_bytes{family=\"ipv4\"} 1240.0",
                        "tcpmssd_maximum_mss_bytes{family=\"ipv6\"} 1220.0");
    }

    @Test
    void everyFamilyAndOutcomeIsExportedFromTheStartAtZero() throws Exception {
        List<String> packets = samples().stream().filter(line -> line.startsWith("tcpmssd_packets_total{")).toList();

        assertThat(packets).hasSize(3 * Outcome.values().length).allMatch(line -> line.endsWith("} 0.0"));
        for (Outcome o : Outcome.values()) {
            String label = o.name().toLowerCase(Locale.ROOT);
            assertThat(label).matches("[a-z]+(_[a-z]+)*");
            for (String family : List.of("ipv4", "ipv6", "other")) {
                assertThat(packets).contains("tcpmssd_packets_total{family=\"" + family + "\",outcome=\"" + label + "\"} 0.0");
            }
        }
    }

    @Test
    void eachScrapeReadsTheCountersAndTheMaximumAgain() throws Exception {
        assertThat(samples()).contains("tcpmssd_packets_total{family=\"ipv4\",outcome=\"clamped\"} 0.0");

        first.count(4, Outcome.CLAMPED);
        maximum.set(MaxMss.forMtu(1492));

        assertThat(samples()).contains(
                "tcpmssd_packets_total{family=\"ipv4\",outcome=\"clamped\"} 1.0",
                "tcpmssd_maximum_mss_bytes{family=\"ipv4\"} 1452.0",
                "tcpmssd_maximum_mss_bytes{family=\"ipv6\"} 1432.0");
    }

    @Test
    void theGaugeIsLeftOutWhileTheMaximumIsNotKnownYet() throws Exception {
        maximum.set(null);

        assertThat(scrape(null).body()).doesNotContain("tcpmssd_maximum_mss").contains("tcpmssd_packets_total");
    }

    @Test
    void aScraperAskingForOpenMetricsGetsIt() throws Exception {
        HttpResponse<String> response = scrape("application/openmetrics-text; version=1.0.0");

        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type).startsWith("application/openmetrics-text"));
        assertThat(response.body().lines()).contains("# UNIT tcpmssd_maximum_mss_bytes bytes", "# EOF");
    }

    @Test
    void aScraperPreferringProtobufIsAnswered() throws Exception {
        // What Prometheus sends with native histograms on: must not end in a 500 (the protobuf writer is on the class path).
        HttpResponse<String> response = scrape("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                + "encoding=delimited;q=0.6,text/plain;version=0.0.4;q=0.3");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type).startsWith("application/vnd.google.protobuf"));
    }

    @Test
    void servesOnIpv6LoopbackWhenTheAddressSaysSo() throws Exception {
        assumeTrue(ipv6LoopbackWorks(), "no IPv6 loopback on this machine");
        try (MetricsServer v6 = MetricsServer.start(address("[::1]:0"), () -> List.of(first), maximum::get)) {
            HttpResponse<String> response = http.send(
                    HttpRequest.newBuilder(URI.create("http://[::1]:" + v6.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());

            assertThat(response.body()).contains("tcpmssd_maximum_mss_bytes{family=\"ipv6\"} 1220.0");
        }
    }

    private static boolean ipv6LoopbackWorks() {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            return probe.isBound();
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void closeFreesThePort() throws Exception {
        int port = server.port();
        assertThat(port).isPositive();

        server.close();

        try (ServerSocket again = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.1"))) {
            assertThat(again.getLocalPort()).isEqualTo(port);
        }
        assertThatThrownBy(() -> scrape(null)).isInstanceOf(IOException.class);
    }

    @Test
    void aPortInUseIsAnIOExceptionWithAPlainReason() {
        MetricsAddress taken = address("127.0.0.1:" + server.port());

        assertThatThrownBy(() -> MetricsServer.start(taken, List::of, () -> null))
                .isInstanceOf(IOException.class)
                .hasMessage("address already in use");
    }

    @Test
    void anAddressNotOnThisHostIsRefusedNotWidened() {
        MetricsAddress elsewhere = address("192.0.2.1:0"); // TEST-NET-1: on no interface here

        assertThatThrownBy(() -> MetricsServer.start(elsewhere, List::of, () -> null))
                .isInstanceOf(IOException.class)
                .hasMessage("cannot assign requested address");
    }

    @Test
    void theServerRunsOnDaemonThreadsOnly() {
        // A forgotten close() must never keep the JVM alive after the daemon's main thread returns.
        assertThat(Thread.getAllStackTraces().keySet())
                .filteredOn(t -> t.getName().equals("metrics-http"))
                .isNotEmpty()
                .allMatch(Thread::isDaemon);
    }

    /** Sends {@code request} as it is on a fresh connection and returns all that comes back before the server closes. */
    private static String exchange(int port, String request) throws IOException {
        try (Socket socket = new Socket(InetAddress.getByName("127.0.0.1"), port)) {
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    private static boolean connects(String address, int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getByName(address), port), 2000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void anIpv4AddressListensOnIpv4Only() throws Exception {
        assumeTrue(ipv6LoopbackWorks(), "no IPv6 loopback on this machine");
        try (MetricsServer any4 = MetricsServer.start(address("0.0.0.0:0"), List::of, () -> null)) {
            assertThat(connects("127.0.0.1", any4.port())).isTrue();
            assertThat(connects("::1", any4.port())).as("0.0.0.0 is not ::").isFalse();
            try (ServerSocket v6 = new ServerSocket()) {
                v6.bind(new InetSocketAddress(InetAddress.getByName("::1"), any4.port()));
                assertThat(v6.isBound()).as("IPv6's port stays free").isTrue();
            }
        }
    }

    @Test
    void anIpv6WildcardListensOnIpv6Only() throws Exception {
        assumeTrue(ipv6LoopbackWorks(), "no IPv6 loopback on this machine");
        try (MetricsServer any6 = MetricsServer.start(address("[::]:0"), List::of, () -> null)) {
            assertThat(connects("::1", any6.port())).isTrue();
            assertThat(connects("127.0.0.1", any6.port())).as("[::] is IPV6_V6ONLY").isFalse();
            try (ServerSocket v4 = new ServerSocket(any6.port(), 1, InetAddress.getByName("127.0.0.1"))) {
                assertThat(v4.isBound()).as("IPv4's port stays free").isTrue();
            }
        }
    }

    @Test
    void onlyTheMetricsPathIsServed() throws Exception {
        assertThat(exchange(server.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")).startsWith("HTTP/1.1 404 Not Found\r\n");
        assertThat(exchange(server.port(), "GET /metrics/x HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 404 ");
        assertThat(exchange(server.port(), "GET /-/healthy HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 404 ");
        assertThat(exchange(server.port(), "GET /metrics?name[]=x HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 200 OK\r\n");
        assertThat(exchange(server.port(), "GET /metrics HTTP/1.0\n\n")).as("bare LF, HTTP/1.0").startsWith("HTTP/1.1 200 OK\r\n");
    }

    @Test
    void onlyGetAndHeadAreServed() throws Exception {
        for (String method : List.of("POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH")) {
            String response = exchange(server.port(), method + " /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
            assertThat(response).as(method).startsWith("HTTP/1.1 405 Method Not Allowed\r\n").contains("\r\nAllow: GET, HEAD\r\n");
        }
        String head = exchange(server.port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
        String get = exchange(server.port(), "GET /metrics HTTP/1.1\r\n\r\n");
        assertThat(head).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\n").doesNotContain("tcpmssd_packets_total");
        assertThat(get).contains("tcpmssd_packets_total");
        String length = get.lines().filter(l -> l.startsWith("Content-Length: ")).findFirst().orElseThrow();
        assertThat(head).contains(length);
    }

    @Test
    void whatIsNotHttpIsABadRequest() throws Exception {
        assertThat(exchange(server.port(), "hello\r\n\r\n")).startsWith("HTTP/1.1 400 Bad Request\r\n");
        assertThat(exchange(server.port(), "\r\n\r\n")).startsWith("HTTP/1.1 400 ");
        assertThat(exchange(server.port(), "GET /metrics HTTP/2.0\r\n\r\n")).startsWith("HTTP/1.1 400 ");
        assertThat(exchange(server.port(), "GET /metrics HTTP/1.1\r\nAccept: text/plain\r\n folded\r\n\r\n")).startsWith("HTTP/1.1 400 ");
        assertThat(exchange(server.port(), "GET  /metrics HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400 ");
    }

    @Test
    void aRequestHeadIsBounded() throws Exception {
        String huge = "GET /metrics HTTP/1.1\r\nX-Padding: " + "a".repeat(HttpListener.Limits.DEFAULT.requestBytes()) + "\r\n\r\n";
        assertThat(exchange(server.port(), huge)).startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n");
    }

    @Test
    void tenHalfSentRequestsDoNotStopAScrape() throws Exception {
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 10; i++) {
                Socket socket = new Socket(InetAddress.getByName("127.0.0.1"), server.port());
                socket.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n".getBytes(StandardCharsets.US_ASCII));
                slow.add(socket);
            }
            long started = System.nanoTime();
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics"))
                    .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(1));
        } finally {
            for (Socket socket : slow) {
                socket.close();
            }
        }
    }

    @Test
    void aSlowClientIsClosedAtItsDeadline() throws Exception {
        HttpListener.Limits limits = new HttpListener.Limits(16, 4096, Duration.ofMillis(300));
        try (MetricsServer quick = MetricsServer.start(address("127.0.0.1:0"), List::of, () -> null, limits);
                Socket socket = new Socket(InetAddress.getByName("127.0.0.1"), quick.port())) {
            socket.setSoTimeout(5000);
            socket.getOutputStream().write("GET /metrics HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
            long started = System.nanoTime();
            assertThat(socket.getInputStream().read()).as("closed without an answer").isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isBetween(Duration.ofMillis(200), Duration.ofSeconds(2));
        }
    }

    @Test
    void theDefaultDeadlineIsAFewSeconds() {
        assertThat(HttpListener.Limits.DEFAULT.deadline()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void whenAllConnectionsAreTakenTheOldestMakesRoom() throws Exception {
        HttpListener.Limits limits = new HttpListener.Limits(4, 4096, Duration.ofSeconds(30));
        List<Socket> idle = new ArrayList<>();
        try (MetricsServer small = MetricsServer.start(address("127.0.0.1:0"), List::of, () -> null, limits)) {
            for (int i = 0; i < 4; i++) {
                Socket socket = new Socket(InetAddress.getByName("127.0.0.1"), small.port());
                socket.setSoTimeout(5000);
                idle.add(socket);
                Thread.sleep(50); // accepted in this order
            }
            assertThat(exchange(small.port(), "GET /metrics HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 200 OK");
            assertThat(idle.getFirst().getInputStream().read()).as("the oldest was closed").isEqualTo(-1);
        } finally {
            for (Socket socket : idle) {
                socket.close();
            }
        }
    }
}
