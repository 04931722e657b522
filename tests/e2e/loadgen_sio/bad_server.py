#!/usr/bin/env python3
"""A server that answers Engine.IO requests with broken HTTP and broken packets, for
loadgen's bad-input test: malformed status lines and bodies, truncated and oversized
answers, bad chunking, malformed and hostile cookies, random bytes, silent closes.
Usage: bad_server.py PORT (runs until killed)."""
import random
import socket
import sys
import threading

ANSWERS = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n0{bad",
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0{\"sid\":\"x\"}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
    b"garbage\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n0{\"sid\":\"abc\",\"pingInterval\":100}\x1e4xyz",
    b"HTTP/1.1 200 OK\r\n\r\n0{\"sid\":\"abc\",\"upgrades\":[\"websocket\"]}\x1e"
    b"42[\"new_product\",{\"req_id\":5}]\x1e40{\"sid\":1}\x1e44{\x1e2/x,[",
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a\r\nSet-Cookie: =x\r\n"
    b"Set-Cookie: k=" + b"v" * 5000 + b"\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\n" + b"X-Pad: 0123456789abcdef\r\n" * 2000 + b"\r\n",
    b"",
]


def handle(conn, rnd):
    try:
        conn.settimeout(2)
        data = conn.recv(65536)
        while data:
            answer = rnd.choice(ANSWERS) if rnd.random() < 0.9 else rnd.randbytes(300)
            conn.sendall(answer)
            if rnd.random() < 0.5:
                break
            data = conn.recv(65536)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    port = int(sys.argv[1])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(512)
    rnd = random.Random(7)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, random.Random(rnd.random())), daemon=True).start()


if __name__ == "__main__":
    main()
