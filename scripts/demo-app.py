"""A tiny service: serves a digest of /etc/os-release over HTTP on 127.0.0.1, fetches it once."""
import ctypes, hashlib, http.server, json, os, subprocess, sys, threading, urllib.request

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        digest = hashlib.sha256(open("/etc/os-release", "rb").read()).hexdigest()[:16]
        body = json.dumps({"os-release sha256": digest}).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
thread = threading.Thread(target=server.handle_request)
thread.start()
print("  app: GET / ->", urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/").read().decode())
thread.join()

if "--exploited" in sys.argv:
    # What an attacker who took over the process would try next.
    try:
        r = subprocess.run(["/bin/sh", "-c", "id -un"], capture_output=True, text=True)
        print("  attacker: spawned a shell, running as", r.stdout.strip() or f"(exit {r.returncode})")
    except OSError as e:
        print("  attacker: spawning a shell ->", e.strerror)
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.unshare(0x10000000)  # CLONE_NEWUSER: the first step of many kernel exploits
    print("  attacker: unshare(CLONE_NEWUSER) ->", "succeeded" if r == 0 else os.strerror(ctypes.get_errno()))
