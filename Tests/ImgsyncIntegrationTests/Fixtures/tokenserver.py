"""Token server for a real `docker-registry` configured with `auth: token` (RS256 JWTs with x5c).

Usage: tokenserver.py CONFIG.json
Config: host, cert, key (TLS), sign_key, sign_cert (the registry's rootcertbundle), issuer, service,
users ({name: password}), anonymous_actions (granted without credentials, default ["pull"]),
log (JSON lines), ready (file the port is written to). GET (token.md, Basic optional) and POST
(oauth.md, grant_type password / refresh_token) are served on /token. Wrong credentials → 401.
The server exits when its parent process goes away.
"""
import base64, json, os, secrets, ssl, subprocess, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

config = json.load(open(sys.argv[1]))
parent = os.getppid()
lock = threading.Lock()
refresh_tokens = {}


def watch_parent():
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


threading.Thread(target=watch_parent, daemon=True).start()

with open(config["sign_cert"]) as f:
    pem = f.read()
der_b64 = "".join(l for l in pem.splitlines() if "-----" not in l)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(subject, scopes, actions_allowed):
    access = []
    for scope in scopes:
        parts = scope.split(":")
        if len(parts) < 3:
            continue
        kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
        granted = [a for a in actions if a in actions_allowed]
        access.append({"type": kind, "name": name, "actions": granted})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [der_b64]}
    claims = {"iss": config["issuer"], "sub": subject, "aud": config["service"], "exp": now + 300,
              "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", config["sign_key"]],
                         input=signing_input.encode(), capture_output=True, check=True).stdout
    return signing_input + "." + b64url(sig)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        self.request = context.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, method, body):
        entry = {"t": time.time(), "method": method, "path": self.path,
                 "headers": [[k, v] for k, v in self.headers.items()], "body": body}
        with lock, open(config["log"], "a") as f:
            f.write(json.dumps(entry) + "\n")

    def do_GET(self):
        self.record("GET", "")
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        subject = None
        auth = self.headers.get("Authorization")
        if auth:
            if not auth.startswith("Basic "):
                return self.reply(401, {"details": "unsupported authorization"})
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if config["users"].get(user) != password:
                return self.reply(401, {"details": "bad credentials"})
            subject = user
        self.grant(subject, query.get("scope", []), refresh=False)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        self.record("POST", body)
        if config.get("post_404"):
            return self.reply(404, {"details": "POST not supported"})
        form = urllib.parse.parse_qs(body)
        grant = form.get("grant_type", [""])[0]
        if grant == "password":
            user = form.get("username", [""])[0]
            if config["users"].get(user) != form.get("password", [""])[0]:
                return self.reply(401, {"error": "invalid_grant"})
            subject = user
        elif grant == "refresh_token":
            subject = refresh_tokens.get(form.get("refresh_token", [""])[0])
            if subject is None:
                return self.reply(401, {"error": "invalid_grant"})
        else:
            return self.reply(400, {"error": "unsupported_grant_type"})
        self.grant(subject, form.get("scope", []), refresh=True)

    def grant(self, subject, scopes, refresh):
        allowed = ["pull", "push", "delete", "*"] if subject else config.get("anonymous_actions", ["pull"])
        token = make_token(subject or "", scopes, allowed)
        reply = {"token": token, "access_token": token, "expires_in": 300,
                 "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if refresh and subject:
            rt = secrets.token_hex(16)
            refresh_tokens[rt] = subject
            reply["refresh_token"] = rt
        self.reply(200, reply)


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(config["cert"], config["key"])


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


server = Server((config["host"], config.get("port", 0)), Handler)
with open(config["ready"] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(config["ready"] + ".tmp", config["ready"])
server.serve_forever()
