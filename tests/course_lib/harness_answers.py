"""Correct learner answers, and realistic wrong ones, for the check tests.

Each wrong answer models one mistake a learner makes; its name says which.
"""

import os
import socket
import struct
import time

from course_lib import checks, probes

# --- start_server --------------------------------------------------------


def start_server():
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock, sock.getsockname()[1]


def start_server_fixed_port(_port=[]):  # noqa: B006 - the mistake modelled: one port, remembered
    sock = socket.socket()
    if not _port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            _port.append(probe.getsockname()[1])
    try:
        sock.bind(("127.0.0.1", _port[0]))
    except OSError:
        sock.close()
        raise
    sock.listen()
    return sock, _port[0]


def start_server_no_listen():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def start_server_returns_zero():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, 0


def start_server_all_interfaces():
    sock = socket.socket()
    sock.bind(("0.0.0.0", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def start_server_only_socket():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


# --- echo servers ------------------------------------------------------------


def serve_once(listener):
    conn, _ = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)


def serve_once_one_recv(listener):
    conn, _ = listener.accept()
    with conn:
        conn.sendall(conn.recv(65536))


def serve_once_send(listener):
    conn, _ = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.send(data)


def serve_once_no_close(listener):
    conn, _ = listener.accept()
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)


def serve_once_never_returns(listener):
    conn, _ = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            conn.sendall(data)  # never checks for b'': spins once the client closes


def serve_once_str(listener):
    conn, _ = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data.decode())


# --- timestamp -----------------------------------------------------------------


def serve_timestamp(listener):
    conn, _ = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(b"[" + time.ctime().encode() + b"] " + data)


def serve_timestamp_str(listener):
    conn, _ = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.send("[%s] %s" % (time.ctime(), data))


def serve_timestamp_repr(listener):
    conn, _ = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(("[%s] %s" % (time.ctime(), data)).encode())


def serve_timestamp_bufsize_1024(listener):
    conn, _ = listener.accept()
    with conn:
        while True:
            data = conn.recv(1024)  # the seed code's BUFSIZE: a 4 KiB message is split
            if not data:
                break
            conn.sendall(b"[" + time.ctime().encode() + b"] " + data)


def serve_timestamp_send(listener):
    conn, _ = listener.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.send(b"[" + time.ctime().encode() + b"] " + data)


# --- sequential / concurrent ------------------------------------------------------


def serve_clients(listener, n):
    for _ in range(n):
        serve_once(listener)


def serve_clients_only_one(listener, n):
    serve_once(listener)


def serve_clients_one_recv(listener, n):
    for _ in range(n):
        serve_once_one_recv(listener)


def serve_concurrently_one_recv(listener, n):
    import threading

    def handle(conn):
        with conn:
            conn.sendall(conn.recv(4096))

    threads = [threading.Thread(target=handle, args=(listener.accept()[0],)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def serve_concurrently_no_join(listener, n):
    """Returns at once; its threads die with OSError when the harness closes their sockets."""
    import threading

    def handle(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)

    for _ in range(n):
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def serve_concurrently(listener, n):
    import threading

    def handle(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)

    threads = []
    for _ in range(n):
        conn, _ = listener.accept()
        t = threading.Thread(target=handle, args=(conn,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


# --- UDP ---------------------------------------------------------------------------


def serve_udp(sock, count):
    for _ in range(count):
        data, addr = sock.recvfrom(65535)
        sock.sendto(data, addr)


def serve_udp_stops_on_empty(sock, count):
    for _ in range(count):
        data, addr = sock.recvfrom(65535)
        if not data:
            return
        sock.sendto(data, addr)


def serve_udp_small_buffer(sock, count):
    for _ in range(count):
        data, addr = sock.recvfrom(512)
        sock.sendto(data, addr)


def serve_udp_first_sender(sock, count):
    first = None
    for _ in range(count):
        data, addr = sock.recvfrom(65535)
        first = first or addr
        sock.sendto(data, first)


def serve_udp_str(sock, count):
    for _ in range(count):
        data, addr = sock.recvfrom(65535)
        sock.sendto(data.decode(), addr)


# --- reuseaddr / dualstack -------------------------------------------------------


def make_listener(port):
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def make_listener_no_reuse(port):
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    sock.listen()
    return sock


def make_listener_after_bind(port):
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.listen()
    return sock


def make_dualstack_server():
    return socket.create_server(("", 0), family=socket.AF_INET6, dualstack_ipv6=True)


def make_v6only_server():
    return socket.create_server(("", 0), family=socket.AF_INET6)


def make_dualstack_server_unsupported():
    raise ValueError("dualstack_ipv6 not supported on this platform")


def make_dualstack_server_returns_none():
    return None


def make_v4_server():
    return socket.create_server(("127.0.0.1", 0))


# --- clients -----------------------------------------------------------------------


def fetch_all(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def fetch_all_one_recv(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        return sock.recv(65536)


def fetch_all_str(port):
    return fetch_all(port).decode()


def fetch_all_no_close(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def request(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def request_no_shutdown(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def request_one_big_recv(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return sock.recv(65536)


def request_one_recv(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return sock.recv(4)


def probe(port):
    with socket.socket() as sock:
        sock.settimeout(1.0)
        code = sock.connect_ex(("127.0.0.1", port))
    if code == 0:
        return True
    if code in probes.REFUSED_ERRNOS:
        return False
    raise OSError(code, os.strerror(code))


def probe_connect(port):
    with socket.socket() as sock:
        sock.connect(("127.0.0.1", port))
        return True


def probe_returns_int(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port))


def probe_no_close(port):
    sock = socket.socket()
    return sock.connect_ex(("127.0.0.1", port)) == 0


def probe_waits_for_data(port):
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return False
        sock.recv(1)
        return True


def fetch_with_timeout(port, timeout):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def fetch_with_timeout_none(port, timeout):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def fetch_with_timeout_swallows(port, timeout):
    try:
        return fetch_with_timeout(port, timeout)
    except socket.timeout:
        return b""


def fetch_with_timeout_leaks(port, timeout):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            sock.close()
            return b"".join(chunks)
        chunks.append(data)


def fetch_with_timeout_one_recv(port, timeout):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        return sock.recv(65536)


def exchange_lines(port, lines):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock, \
            sock.makefile("rw", encoding="utf-8", newline="\n") as f:
        replies = []
        for line in lines:
            f.write(line + "\n")
            f.flush()
            replies.append(f.readline().rstrip("\n"))
        return replies


def exchange_lines_no_flush(port, lines):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock, \
            sock.makefile("rw", encoding="utf-8", newline="\n") as f:
        replies = []
        for line in lines:
            f.write(line + "\n")
            replies.append(f.readline().rstrip("\n"))
        return replies


def exchange_lines_no_newline(port, lines):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock, \
            sock.makefile("rw", encoding="utf-8", newline="\n") as f:
        replies = []
        for line in lines:
            f.write(line)
            f.flush()
            replies.append(f.readline().rstrip("\n"))
        return replies


def exchange_lines_bytes(port, lines):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock, sock.makefile("rwb") as f:
        replies = []
        for line in lines:
            f.write(line.encode() + b"\n")
            f.flush()
            replies.append(f.readline())
        return replies


def exchange_lines_latin1(port, lines):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock, \
            sock.makefile("rw", encoding="latin-1", newline="\n") as f:
        replies = []
        for line in lines:
            f.write(line.encode("utf-8").decode("latin-1") + "\n")
            f.flush()
            replies.append(f.readline().rstrip("\n"))
        return replies


def udp_request(port, data, timeout, retries):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        for _ in range(retries + 1):
            sock.sendto(data, ("127.0.0.1", port))
            try:
                reply, _ = sock.recvfrom(65535)
                return reply
            except socket.timeout:
                continue
        raise TimeoutError("no reply")


def udp_request_no_retry(port, data, timeout, retries):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(data, ("127.0.0.1", port))
        return sock.recvfrom(65535)[0]


def udp_request_forever(port, data, timeout, retries):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        while True:
            sock.sendto(data, ("127.0.0.1", port))
            try:
                return sock.recvfrom(65535)[0]
            except socket.timeout:
                continue


def udp_request_returns_empty(port, data, timeout, retries):
    try:
        return udp_request(port, data, timeout, retries)
    except TimeoutError:
        return b""


def send_file(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock, open(path, "rb") as f:
        return sock.sendfile(f)


def send_file_text_mode(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock, open(path) as f:
        return sock.sendfile(f)


def send_file_one_chunk(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock, open(path, "rb") as f:
        return sock.send(f.read(65536))


def send_file_returns_none(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock, open(path, "rb") as f:
        sock.sendfile(f)


# --- framing and recv_into ---------------------------------------------------------


def send_msg(sock, payload):
    sock.sendall(struct.pack("!I", len(payload)) + payload)


def send_msg_send(sock, payload):
    sock.send(struct.pack("!I", len(payload)) + payload)


def send_msg_little_endian(sock, payload):
    sock.sendall(struct.pack("<I", len(payload)) + payload)


def _recv_exactly(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def recv_msg(sock):
    header = b""
    while len(header) < 4:
        chunk = sock.recv(4 - len(header))
        if not chunk:
            if header:
                raise EOFError("closed in the middle of a header")
            return None
        header += chunk
    (length,) = struct.unpack("!I", header)
    return _recv_exactly(sock, length)


def recv_msg_one_recv(sock):
    header = sock.recv(4)
    if not header:
        return None
    (length,) = struct.unpack("!I", header)
    return sock.recv(length)


def recv_msg_overreads(sock):
    header = sock.recv(4)
    while header and len(header) < 4:
        header += sock.recv(4 - len(header))
    if not header:
        return None
    (length,) = struct.unpack("!I", header)
    data = b""
    while len(data) < length:
        chunk = sock.recv(65536)  # may take bytes of the next frame too
        if not chunk:
            raise EOFError
        data += chunk
    return data


def recv_msg_none_midway(sock):
    try:
        return recv_msg(sock)
    except EOFError:
        return None


def recv_exactly_into(sock, buf):
    view = memoryview(buf)
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            raise EOFError(f"closed after {got} of {len(view)} bytes")
        got += n


def recv_exactly_into_once(sock, buf):
    sock.recv_into(buf)


def recv_exactly_into_overwrites(sock, buf):
    got = 0
    while got < len(buf):
        n = sock.recv_into(buf)
        if n == 0:
            raise EOFError
        got += n


def recv_exactly_into_ignores_eof(sock, buf):
    view = memoryview(buf)
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            return
        got += n


def never_returns(*args):
    while True:
        pass


# Every check with its correct answer(s): the tests' and the benchmark's common list.
CORRECT = [
    (checks.check_start_server, (start_server,)),
    (checks.check_echo_server, (serve_once,)),
    (checks.check_timestamp_server, (serve_timestamp,)),
    (checks.check_sequential_server, (serve_clients,)),
    (checks.check_concurrent_server, (serve_concurrently,)),
    (checks.check_udp_echo_server, (serve_udp,)),
    (checks.check_reuseaddr_listener, (make_listener,)),
    (checks.check_fetch_all, (fetch_all,)),
    (checks.check_request, (request,)),
    (checks.check_probe, (probe,)),
    (checks.check_fetch_with_timeout, (fetch_with_timeout,)),
    (checks.check_framing, (send_msg, recv_msg)),
    (checks.check_send_msg, (send_msg,)),
    (checks.check_recv_msg, (recv_msg,)),
    (checks.check_line_client, (exchange_lines,)),
    (checks.check_recv_exactly, (recv_exactly_into,)),
    (checks.check_udp_client, (udp_request,)),
    (checks.check_sendfile, (send_file,)),
]
