"""Scripted misbehaving HTTPS server for the registry client's integration tests.

Usage: fakeserver.py SCENARIO.json
The scenario gives host, cert, key, log (JSON lines, one per request), ready (a file the port is
written to once listening) and routes. Each route matches a method and a path (exact, with or
without the query) or a prefix, and answers its n-th request with responses[min(n, last)].
A response may set status, headers (list of pairs, repeats allowed), body / body_b64 / body_file,
content_length ("auto", "chunked", null or a number), honor_range, gzip, truncate_after (bytes, then
an abortive close), close_after (bytes, then a clean close), stall_after + stall_seconds, trickle
(bytes per second). Each log line has "inflight": the requests being answered when this one
arrived, itself included; a request stops counting just before the last bytes of its answer are
sent (after a stall, if any), so a client can never start a request in its place while it is still
counted. "blackhole": true instead of routes makes a port whose accept queue is full;
"plain": true serves plain http instead of TLS.
The server exits when its parent process goes away.
"""
import base64, gzip, json, os, socket, ssl, struct, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

scenario = json.load(open(sys.argv[1]))
lock = threading.Lock()
counters = {}
inflight = [0]
parent = os.getppid()


def watch_parent():
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


threading.Thread(target=watch_parent, daemon=True).start()

if scenario.get("blackhole"):
    s = socket.socket()
    s.bind((scenario["host"], 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect((scenario["host"], port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.3)
    with open(scenario["ready"] + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(scenario["ready"] + ".tmp", scenario["ready"])
    while True:
        time.sleep(3600)

context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(scenario["cert"], scenario["key"])


def find_route(method, path):
    bare = path.split("?", 1)[0]
    for i, r in enumerate(scenario.get("routes", [])):
        if r.get("method", "*") not in ("*", method):
            continue
        if "path" in r and r["path"] in (path, bare):
            return i, r
        if "prefix" in r and path.startswith(r["prefix"]):
            return i, r
    return None, None


def load_body(r):
    if "body_file" in r:
        with open(r["body_file"], "rb") as f:
            return f.read()
    if "body_b64" in r:
        return base64.b64decode(r["body_b64"])
    return r.get("body", "").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        if not scenario.get("plain"):
            self.request = context.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any("GET")

    def do_HEAD(self):
        self.handle_any("HEAD")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def leave(self):
        """This request stops counting as in flight (once)."""
        if getattr(self, "counted", False):
            with lock:
                inflight[0] -= 1
            self.counted = False

    def handle_any(self, method):
        try:
            self.answer(method)
        finally:
            self.leave()

    def answer(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with lock:
            inflight[0] += 1
            self.counted = True
            now_inflight = inflight[0]
        entry = {"t": time.time(), "method": method, "path": self.path, "inflight": now_inflight,
                 "headers": [[k, v] for k, v in self.headers.items()], "body": body.decode("latin-1")}
        index, route = find_route(method, self.path)
        with lock:
            with open(scenario["log"], "a") as f:
                f.write(json.dumps(entry) + "\n")
            count = counters.get(index, 0)
            counters[index] = count + 1
        if route is None:
            data = b'{"errors":[{"code":"NOT_FOUND","message":"no route in scenario"}]}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.leave()
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)
            return
        responses = route["responses"]
        self.respond(responses[min(count, len(responses) - 1)], method)

    def respond(self, r, method):
        status = r.get("status", 200)
        data = load_body(r)
        headers = [list(h) for h in r.get("headers", [])]
        rng = self.headers.get("Range")
        if r.get("honor_range") and rng and status == 200:
            start = int(rng.split("=", 1)[1].split("-", 1)[0])
            total = len(data)
            data = data[start:]
            status = 206
            headers.append(["Content-Range", "bytes %d-%d/%d" % (start, total - 1, total)])
        if r.get("gzip"):
            data = gzip.compress(data)
            headers.append(["Content-Encoding", "gzip"])
        length = r.get("content_length", "auto")
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        chunked = length == "chunked"
        if length == "auto":
            self.send_header("Content-Length", str(len(data)))
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.close_connection = True
        if "stall_after" not in r or method == "HEAD":
            self.leave()
        self.end_headers()
        if method == "HEAD":
            return
        self.wfile.flush()
        try:
            self.write_body(r, data, chunked)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def send(self, piece, chunked):
        if not piece:
            return
        if chunked:
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        else:
            self.wfile.write(piece)
        self.wfile.flush()

    def write_body(self, r, data, chunked):
        if "truncate_after" in r or "close_after" in r:
            n = r.get("truncate_after", r.get("close_after"))
            self.send(data[:n], chunked)
            time.sleep(0.05)
            if "truncate_after" in r:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if "stall_after" in r:
            n = r["stall_after"]
            self.send(data[:n], chunked)
            time.sleep(r.get("stall_seconds", 60))
            self.leave()
            data = data[n:]
        if "trickle" in r:
            step = max(1, int(r["trickle"] / 10))
            for i in range(0, len(data), step):
                self.send(data[i:i + step], chunked)
                time.sleep(0.1)
        else:
            for i in range(0, len(data), 1 << 16):
                self.send(data[i:i + (1 << 16)], chunked)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        pass


server = Server((scenario["host"], scenario.get("port", 0)), Handler)
with open(scenario["ready"] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(scenario["ready"] + ".tmp", scenario["ready"])
server.serve_forever()
