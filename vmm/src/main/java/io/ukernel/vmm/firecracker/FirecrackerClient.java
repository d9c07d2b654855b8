package io.ukernel.vmm.firecracker;

import io.ukernel.app.json.Json;
import io.ukernel.vmm.firecracker.request.FirecrackerRequest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A client of Firecracker's REST API on its Unix socket ({@code --api-sock}). Every accepted pre-boot call
 * answers {@code 204} with no body; a refusal is {@code 400} with {@code {"fault_message": "..."}}, thrown as a
 * {@link FirecrackerApiException} carrying the message verbatim. Not thread-safe: one caller at a time.
 */
public final class FirecrackerClient implements AutoCloseable {
    private final Path socket;
    private final UnixHttp http;

    private FirecrackerClient(Path socket, UnixHttp http) {
        this.socket = socket;
        this.http = http;
    }

    /**
     * Connects to the API socket.
     *
     * @throws IOException if nothing listens there
     */
    public static FirecrackerClient connect(Path socket) throws IOException {
        return new FirecrackerClient(socket, UnixHttp.connect(socket));
    }

    /**
     * Sends {@code request}.
     *
     * @throws FirecrackerApiException if Firecracker refuses it
     * @throws IOException             if the socket fails
     */
    public void put(FirecrackerRequest request) throws FirecrackerApiException, IOException {
        String what = request.method() + " " + request.path();
        UnixHttp.Response r = http.send(request.method(), request.path(), Json.write(request.body()));
        if (r.status() / 100 != 2) {
            throw new FirecrackerApiException(what, r.status(), faultMessage(r.body()));
        }
    }

    /** {@code GET path}'s body (e.g. {@code /} for the instance's state); errors as for {@link #put}. */
    public Map<String, Object> get(String path) throws FirecrackerApiException, IOException {
        UnixHttp.Response r = http.send("GET", path, null);
        if (r.status() / 100 != 2) {
            throw new FirecrackerApiException("GET " + path, r.status(), faultMessage(r.body()));
        }
        return r.body().isBlank() ? Map.of() : Json.readObject(r.body());
    }

    static String faultMessage(String body) {
        try {
            Object m = Json.readObject(body).get("fault_message");
            if (m instanceof String s) {
                return s;
            }
        } catch (IllegalArgumentException notJson) {
            // fall through to the raw body
        }
        return body.isBlank() ? "(no fault_message)" : body.strip();
    }

    /** The socket this client talks to. */
    public Path socket() {
        return socket;
    }

    @Override
    public void close() throws IOException {
        http.close();
    }
}
