package net.tcpmssd.daemon;

import io.prometheus.metrics.config.PrometheusProperties;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import net.tcpmssd.cli.MetricsAddress;
import net.tcpmssd.packet.MaxMss;
import net.tcpmssd.packet.Outcome;

/**
 * {@code --metrics ADDR:PORT}: the counters at {@code GET /metrics}, for Prometheus, with the
 * official Java client (its HTTP server runs on the JDK's com.sun.net.httpserver, daemon threads).
 *
 * <p>The metrics, all read from {@link Counters} and summed over the queues at each scrape (the
 * packet path never sees this class):
 * <ul>
 * <li>{@code tcpmssd_packets_total{family, outcome}}, counter: queued packets by IP version
 *     ({@code ipv4}, {@code ipv6}, {@code other}) and by {@link Outcome}, named by the enum constant
 *     in lower case ({@code clamped}, {@code mss_small_enough}, {@code no_mss_option}, {@code not_syn},
 *     {@code not_tcp}, {@code incoming}, {@code malformed}, ...). Every combination is exported from
 *     the start, at 0, so that {@code rate()} sees the first packet of each.
 * <li>{@code tcpmssd_receive_buffer_overruns_total}, counter: times our socket's receive buffer
 *     overflowed; packets passed unclamped by fail-open then, and are in no other count.
 * <li>{@code tcpmssd_maximum_mss_bytes{family}}, gauge: the largest MSS a SYN leaves with, for
 *     {@code ipv4} and {@code ipv6}; absent while the daemon is still starting. In bytes, so named
 *     with the unit like node_exporter's {@code node_network_mtu_bytes}.
 * </ul>
 */
final class MetricsServer implements AutoCloseable {

    private static final Outcome[] OUTCOMES = Outcome.values();
    private static final int[] VERSIONS = {4, 6, 0};
    private static final String[] FAMILIES = {"ipv4", "ipv6", "other"};

    /** Label sets built once: a scrape then only reads counters and allocates the snapshots. */
    private static final Labels[][] PACKET_LABELS = new Labels[VERSIONS.length][OUTCOMES.length];
    private static final Labels IPV4 = Labels.of("family", FAMILIES[0]);
    private static final Labels IPV6 = Labels.of("family", FAMILIES[1]);

    static {
        for (int f = 0; f < VERSIONS.length; f++) {
            for (Outcome o : OUTCOMES) {
                PACKET_LABELS[f][o.ordinal()] = Labels.of("family", FAMILIES[f], "outcome", o.name().toLowerCase(Locale.ROOT));
            }
        }
    }

    private final HTTPServer server;

    private MetricsServer(HTTPServer server) {
        this.server = server;
    }

    /** Starts serving GET /metrics on the address; the counters are read at each scrape. */
    static MetricsServer start(MetricsAddress address, Supplier<List<Counters>> counters, Supplier<MaxMss> maximum)
            throws IOException {
        InetSocketAddress socket = address.socketAddress();
        // A registry of our own, not the client's global default: nothing else can add to it.
        PrometheusRegistry registry = new PrometheusRegistry();
        // One collector, so that one scrape takes one list of counters and one maximum.
        registry.register((MultiCollector) () -> collect(counters.get(), maximum.get()));
        try {
            // Empty properties: HTTPServer.builder() would read io.prometheus.* system properties,
            // IO_PROMETHEUS_* variables and prometheus.properties, and their port overrides ours.
            return new MetricsServer(HTTPServer.builder(PrometheusProperties.builder().build())
                    .inetAddress(socket.getAddress())
                    .port(socket.getPort())
                    .registry(registry)
                    .buildAndStart());
        } catch (IOException e) {
            throw new IOException(reason(e), e);
        }
    }

    /** The bound port: the address's, or the one the kernel chose for port 0. */
    int port() {
        return server.getPort();
    }

    /** Stops listening at once (the port is free on return) and lets the server's threads end. */
    @Override
    public void close() {
        server.close();
    }

    private static MetricSnapshots collect(List<Counters> all, MaxMss max) {
        CounterSnapshot.Builder packets = CounterSnapshot.builder()
                .name("tcpmssd_packets")
                .help("Packets queued to tcpmssd, by IP version and what became of them.");
        for (int f = 0; f < VERSIONS.length; f++) {
            for (Outcome o : OUTCOMES) {
                long sum = 0;
                for (Counters c : all) {
                    sum += c.get(VERSIONS[f], o);
                }
                packets.dataPoint(CounterDataPointSnapshot.builder().labels(PACKET_LABELS[f][o.ordinal()]).value(sum).build());
            }
        }
        CounterSnapshot overruns = CounterSnapshot.builder()
                .name("tcpmssd_receive_buffer_overruns")
                .help("Receive buffer overflows (ENOBUFS); the packets lost then passed unclamped by fail-open.")
                .dataPoint(CounterDataPointSnapshot.builder().value(all.stream().mapToLong(Counters::overruns).sum()).build())
                .build();
        GaugeSnapshot.Builder maximum = GaugeSnapshot.builder()
                .name("tcpmssd_maximum_mss_bytes")
                .unit(Unit.BYTES)
                .help("The largest MSS a SYN leaves tcpmssd with.");
        if (max != null) { // null while starting: a gauge without samples is left out of the scrape
            maximum.dataPoint(GaugeDataPointSnapshot.builder().labels(IPV4).value(max.ipv4()).build());
            maximum.dataPoint(GaugeDataPointSnapshot.builder().labels(IPV6).value(max.ipv6()).build());
        }
        return new MetricSnapshots(packets.build(), overruns, maximum.build());
    }

    /** "Address already in use" → "address already in use", for "tcpmssd: can't serve metrics on ADDR: ...". */
    private static String reason(IOException e) {
        String message = e.getMessage();
        if (message == null || message.isEmpty()) {
            return e.getClass().getSimpleName();
        }
        return Character.toLowerCase(message.charAt(0)) + message.substring(1);
    }
}
