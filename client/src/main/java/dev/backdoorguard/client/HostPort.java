package dev.backdoorguard.client;

/** A {@code host:port} target, checked before any channel is built so a typo fails with a clear message. */
record HostPort(String host, int port) {

    HostPort {
        if (host.isEmpty()) {
            throw new IllegalArgumentException("target host is empty");
        }
        if (port < 1 || port > 65_535) {
            throw new IllegalArgumentException("target port out of range 1..65535: " + port);
        }
    }

    /** Parses {@code host:port} or {@code [ipv6]:port}. */
    static HostPort parse(String target) {
        int colon = target.lastIndexOf(':');
        if (colon <= 0 || colon == target.length() - 1) {
            throw new IllegalArgumentException("target must be host:port, got '" + target + "'");
        }
        String host = target.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        try {
            return new HostPort(host, Integer.parseInt(target.substring(colon + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("target port is not a number in '" + target + "'");
        }
    }
}
