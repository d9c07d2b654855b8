package io.ukernel.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.URLDecoder;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The little HTTP/1.1 the host speaks, by hand, on both ends. Why not the JDK's {@code HttpServer}: it listens on
 * TCP only, and the host's API must be a Unix socket (owner-only, no port); and a library server would be the
 * CLI's first runtime dependency beyond picocli for a protocol of a few routes. So: one request per connection
 * ({@code Connection: close}), bodies with {@code Content-Length} only (no chunking), at most
 * {@link #MAX_HEAD} bytes of request line and headers and {@link #MAX_BODY} of body.
 */
final class HostHttp {
    static final int MAX_HEAD = 16 * 1024;
    static final int MAX_BODY = 1 << 20;

    /** A request: method, decoded path, decoded query parameters, lower-case header names, body. */
    record Request(String method, String path, Map<String, String> query, Map<String, String> headers, byte[] body) {
        String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }

        int intParam(String name, int dflt) throws BadRequest {
            String v = query.get(name);
            if (v == null || v.isEmpty()) {
                return dflt;
            }
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new BadRequest(name + " must be a whole number, got \"" + v + "\"");
            }
        }
    }

    /** A response. */
    record Response(int status, String contentType, byte[] body) {
        static Response json(int status, String json) {
            return new Response(status, "application/json", (json + "\n").getBytes(StandardCharsets.UTF_8));
        }

        static Response text(int status, String contentType, String text) {
            return new Response(status, contentType, text.getBytes(StandardCharsets.UTF_8));
        }

        String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /** A request the server cannot parse (answered 400 with the message). */
    static final class BadRequest extends Exception {
        BadRequest(String message) {
            super(message);
        }
    }

    private HostHttp() {}

    /** Reads one request. */
    static Request read(InputStream in) throws IOException, BadRequest {
        String head = readHead(in);
        String[] lines = head.split("\r\n");
        String[] first = lines[0].split(" ");
        if (first.length != 3 || !first[2].startsWith("HTTP/1.")) {
            throw new BadRequest("not an HTTP/1.x request line: " + lines[0]);
        }
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0) {
                throw new BadRequest("malformed header line: " + lines[i]);
            }
            headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
                    lines[i].substring(colon + 1).trim());
        }
        if (headers.containsKey("transfer-encoding")) {
            throw new BadRequest("chunked bodies are not supported: send Content-Length");
        }
        int length = 0;
        if (headers.containsKey("content-length")) {
            try {
                length = Integer.parseInt(headers.get("content-length"));
            } catch (NumberFormatException e) {
                throw new BadRequest("bad Content-Length: " + headers.get("content-length"));
            }
            if (length < 0 || length > MAX_BODY) {
                throw new BadRequest("body of " + length + " bytes: at most " + MAX_BODY);
            }
        }
        byte[] body = in.readNBytes(length);
        if (body.length != length) {
            throw new BadRequest("body ended after " + body.length + " of " + length + " bytes");
        }
        String target = first[1];
        int q = target.indexOf('?');
        String rawPath = q < 0 ? target : target.substring(0, q);
        Map<String, String> query = new LinkedHashMap<>();
        if (q >= 0) {
            for (String pair : target.substring(q + 1).split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                query.put(decode(eq < 0 ? pair : pair.substring(0, eq)), eq < 0 ? "" : decode(pair.substring(eq + 1)));
            }
        }
        return new Request(first[0], decode(rawPath), query, headers, body);
    }

    private static String decode(String s) throws BadRequest {
        try {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new BadRequest("bad percent-encoding in " + s);
        }
    }

    private static String readHead(InputStream in) throws IOException, BadRequest {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int state = 0;                          // how much of \r\n\r\n has been seen
        while (state < 4) {
            int c = in.read();
            if (c < 0) {
                throw new BadRequest(b.size() == 0 ? "empty request" : "request ended inside its headers");
            }
            if (b.size() >= MAX_HEAD) {
                throw new BadRequest("request line and headers over " + MAX_HEAD + " bytes");
            }
            b.write(c);
            state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3))
                    ? state + 1 : c == '\r' ? 1 : 0;
        }
        String head = b.toString(StandardCharsets.ISO_8859_1);
        return head.substring(0, head.length() - 4);
    }

    /** Writes a response and its body. */
    static void write(OutputStream out, Response r) throws IOException {
        String head = "HTTP/1.1 " + r.status() + " " + reason(r.status()) + "\r\n"
                + "Content-Type: " + r.contentType() + "\r\n"
                + "Content-Length: " + r.body().length + "\r\n"
                + "Cache-Control: no-store\r\n"
                + "Connection: close\r\n\r\n";
        out.write(head.getBytes(StandardCharsets.ISO_8859_1));
        out.write(r.body());
        out.flush();
    }

    static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 201 -> "Created";
            case 204 -> "No Content";
            case 400 -> "Bad Request";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 409 -> "Conflict";
            case 500 -> "Internal Server Error";
            case 503 -> "Service Unavailable";
            default -> "Status";
        };
    }

    /** Sends one request over the Unix socket and reads the response (the client side of {@code ukernel}). */
    static Response call(Path socket, String method, String path, String jsonBody) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            OutputStream out = Channels.newOutputStream(ch);
            byte[] body = jsonBody == null ? new byte[0] : jsonBody.getBytes(StandardCharsets.UTF_8);
            String head = method + " " + path + " HTTP/1.1\r\nHost: ukernel\r\n"
                    + (jsonBody != null ? "Content-Type: application/json\r\n" : "")
                    + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
            out.write(head.getBytes(StandardCharsets.ISO_8859_1));
            out.write(body);
            out.flush();
            InputStream in = new java.io.BufferedInputStream(Channels.newInputStream(ch));
            return readResponse(in);
        }
    }

    static Response readResponse(InputStream in) throws IOException {
        String head;
        try {
            head = readHead(in);
        } catch (BadRequest e) {
            throw new IOException("the host's answer was cut short: " + e.getMessage());
        }
        String[] lines = head.split("\r\n");
        String[] status = lines[0].split(" ", 3);
        int code;
        try {
            code = Integer.parseInt(status[1]);
        } catch (RuntimeException e) {
            throw new IOException("not an HTTP status line: " + lines[0]);
        }
        String type = "application/octet-stream";
        int length = -1;
        for (int i = 1; i < lines.length; i++) {
            String l = lines[i].toLowerCase(Locale.ROOT);
            if (l.startsWith("content-type:")) {
                type = lines[i].substring(13).trim();
            } else if (l.startsWith("content-length:")) {
                length = Integer.parseInt(lines[i].substring(15).trim());
            }
        }
        byte[] body = length < 0 ? in.readAllBytes() : in.readNBytes(length);
        return new Response(code, type, body);
    }
}
