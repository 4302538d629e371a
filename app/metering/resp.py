"""A minimal Redis client for the gateway's one script call per request.

redis-py spends about five times the CPU of the round trip itself on each call here (a
connection pool with locks, non-blocking sockets polled before every read, retries). The metered
call needs none of that: each thread keeps one blocking connection, sends one EVALSHA and reads
one reply. Everything else (priming balances, the flusher, tests) uses redis-py.
"""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import threading

import hiredis
import redis
from redis.connection import parse_url


class ScriptCaller:
    """Runs one Lua script, loading it when the server does not know it (NOSCRIPT)."""

    def __init__(self, url: str, script: str, timeout: float = 5.0):
        self.options = parse_url(url)
        self.script = script
        self.sha = _sha1(script)
        self.timeout = timeout
        self._local = threading.local()
        self._open: list = []  # every thread's socket, so close() can reach them
        self._lock = threading.Lock()

    def __call__(self, keys: list, args: list):
        reused = getattr(self._local, "conn", None) is not None and getattr(self._local, "pid", None) == os.getpid()
        try:
            reply = self._evalsha(keys, args)
        except (ConnectionResetError, BrokenPipeError) as exc:
            # A connection kept from before a Redis restart: the server never ran the script, so
            # one retry on a fresh connection is safe (a timeout, where it may have run, is not retried).
            self._drop()
            if not reused:
                raise redis.ConnectionError(str(exc)) from exc
            try:
                reply = self._evalsha(keys, args)
            except (OSError, hiredis.ProtocolError) as again:
                self._drop()
                raise redis.ConnectionError(str(again)) from again
        except (OSError, hiredis.ProtocolError) as exc:
            self._drop()
            raise redis.ConnectionError(str(exc)) from exc
        if isinstance(reply, hiredis.ReplyError):
            raise redis.ResponseError(str(reply))
        return reply

    def _evalsha(self, keys: list, args: list):
        reply = self._send(("EVALSHA", self.sha, len(keys), *keys, *args))
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
            self._send(("SCRIPT", "LOAD", self.script))  # a restarted Redis forgot the script
            reply = self._send(("EVALSHA", self.sha, len(keys), *keys, *args))
        return reply

    def _send(self, command: tuple):
        conn = self._connection()
        sock, reader, buffer = conn
        sock.sendall(hiredis.pack_command(command))
        while True:
            reply = reader.gets()
            if reply is not False:
                return reply
            size = sock.recv_into(buffer)
            if not size:
                raise ConnectionResetError("Redis closed the connection")
            reader.feed(buffer, 0, size)

    def _connection(self):
        local = self._local
        if getattr(local, "pid", None) != os.getpid() or local.conn is None:
            local.conn, local.pid = self._connect(), os.getpid()
        return local.conn

    def _connect(self):
        opts = self.options
        if opts.get("path"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            sock.connect(opts["path"])
        else:
            sock = socket.create_connection((opts.get("host", "localhost"), opts.get("port", 6379)), self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if opts.get("connection_class") is redis.SSLConnection:
                sock = tls_context(opts).wrap_socket(sock, server_hostname=opts.get("host"))
        conn = (sock, hiredis.Reader(encoding="utf-8"), bytearray(16384))
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._open.append(sock)
        if opts.get("password"):
            auth = ("AUTH", opts["username"], opts["password"]) if opts.get("username") else ("AUTH", opts["password"])
            self._expect_ok(self._send(auth))
        if opts.get("db"):
            self._expect_ok(self._send(("SELECT", str(opts["db"]))))
        return conn

    @staticmethod
    def _expect_ok(reply) -> None:
        if isinstance(reply, hiredis.ReplyError):
            raise redis.ResponseError(str(reply))

    def close(self) -> None:
        """Close every thread's connection (they reconnect when used again)."""
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            try:
                sock.close()
            except OSError:
                pass
        self._local = threading.local()

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                if conn[0] in self._open:
                    self._open.remove(conn[0])
            try:
                conn[0].close()
            except OSError:
                pass


def tls_context(options: dict) -> ssl.SSLContext:
    """The TLS context for a ``rediss://`` URL, honouring the query options redis-py honours:
    ``ssl_ca_certs`` (a CA file to trust, e.g. a private CA) and ``ssl_cert_reqs=none``
    (no certificate check: only for a server you reach over a network you trust)."""
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    if str(options.get("ssl_cert_reqs", "required")).lower() in ("none", str(int(ssl.CERT_NONE))):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
