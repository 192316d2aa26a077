"""A raw-socket MQTT 5 client for GSSAPI-KERBEROS, for what MQTT.js can't send.

MQTT.js + kerberos can't re-authenticate through a public API, can't send a
bare AUTH packet (F0 00), and its wrap() always picks the "no layer" byte.
This client speaks just enough MQTT 5 (CONNECT, AUTH, CONNACK, PUBLISH,
DISCONNECT) to do those, with real tokens from python-gssapi (Debian's
python3-gssapi, so run it with /usr/bin/python3).

e2e.py imports it; `raw_client.py --port N [--mode M]` runs one exchange and
prints what the broker sent, for trying things by hand.
"""

import argparse
import os
import socket
import struct

import gssapi

METHOD = "GSSAPI-KERBEROS"
CONNECT, CONNACK, PUBLISH, PUBACK, AUTH = 0x10, 0x20, 0x30, 0x40, 0xF0
CONTINUE, REAUTHENTICATE = 0x18, 0x19
PROP_METHOD, PROP_DATA = 0x15, 0x16
NAMES = {0x20: "connack", 0x30: "publish", 0x40: "puback", 0x90: "suback",
         0xD0: "pingresp", 0xE0: "disconnect", 0xF0: "auth"}
KRB5 = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
NO_LAYER = b"\x01\x00\x00\x00"

MODES = {
    "normal": "full exchange; with --publish, one QoS 1 PUBLISH after it",
    "layer": "answer the offer with --layer (hex) instead of 01000000",
    "reauth": "after CONNACK, re-authenticate with AUTH 0x19 (--reauth-ccache: as whom)",
    "bare-auth": "after CONNACK, send a bare AUTH packet (F0 00)",
    "abandon": "close the connection instead of answering the AP-REP",
}


def varint(n):
    out = bytearray()
    while True:
        n, byte = n >> 7, n & 0x7F
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(b):
    return struct.pack("!H", len(b)) + b


def packet(first_byte, body):
    return bytes([first_byte]) + varint(len(body)) + body


def auth_properties(data):
    body = bytes([PROP_METHOD]) + string(METHOD.encode())
    if data:
        body += bytes([PROP_DATA]) + string(data)
    return varint(len(body)) + body


def connect_packet(client_id, data):
    # Protocol 5, clean start, keepalive 60, no username.
    body = string(b"MQTT") + bytes([5, 0x02]) + struct.pack("!H", 60)
    return packet(CONNECT, body + auth_properties(data) + string(client_id.encode()))


def auth_packet(reason, data=None):
    return packet(AUTH, bytes([reason]) + auth_properties(data))


def publish_packet(topic):
    body = string(topic.encode()) + struct.pack("!H", 1) + varint(0) + b"hello"
    return packet(PUBLISH | 0x02, body)  # QoS 1, packet id 1, no properties


class Connection:
    """A socket that reads whole MQTT packets and records what arrived."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.events = []

    def send(self, data):
        self.sock.sendall(data)

    def receive(self):
        """Returns (kind, reason, auth data) of the next packet, or (end, None, b"")
        with end "closed" or "timeout"; records it as e.g. "auth/0x18"."""
        try:
            first = self._read(1)[0]
            length, shift = 0, 0
            while True:
                byte = self._read(1)[0]
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            body = self._read(length)
        except (EOFError, ConnectionResetError):
            self.events.append("closed")
            return "closed", None, b""
        except socket.timeout:
            self.events.append("timeout")
            return "timeout", None, b""
        kind = NAMES.get(first & 0xF0, hex(first & 0xF0))
        reason, data = None, b""
        if kind == "connack":
            reason, data = body[1], auth_data(body[2:])
        elif kind in ("auth", "disconnect"):
            reason = body[0] if body else 0
            data = auth_data(body[1:])
        elif kind == "puback":
            reason = body[2] if length > 2 else 0
        self.events.append(kind if reason is None else f"{kind}/0x{reason:02X}")
        return kind, reason, data

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def close(self):
        self.sock.close()


# MQTT 5 properties a broker may put in CONNACK or AUTH: their fixed size,
# or None for a two-byte length followed by that many bytes.
PROPERTY_SIZES = {0x11: 4, 0x12: None, 0x13: 2, 0x15: None, 0x16: None, 0x1F: None,
                  0x21: 2, 0x22: 2, 0x24: 1, 0x25: 1, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1}


def auth_data(buf):
    """The Authentication Data property of a CONNACK or AUTH, or b""."""
    if not buf:
        return b""
    length, i, shift = 0, 0, 0
    while True:
        byte = buf[i]
        i += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    props, j = buf[i:i + length], 0
    while j < len(props) and props[j] in PROPERTY_SIZES:
        prop, size = props[j], PROPERTY_SIZES[props[j]]
        j += 1
        if size is None:
            size = 2 + struct.unpack("!H", props[j:j + 2])[0]
            if prop == PROP_DATA:
                return props[j + 2:j + size]
        j += size
    return b""


class Sasl:
    """The client side of one SASL GSSAPI exchange (RFC 4752)."""

    def __init__(self, target, ccache=None, layer=NO_LAYER):
        name = gssapi.Name(target, gssapi.NameType.hostbased_service)
        creds = None
        if ccache:
            creds = gssapi.Credentials(usage="initiate", store={"ccache": ccache})
        flags = [gssapi.RequirementFlag.mutual_authentication,
                 gssapi.RequirementFlag.out_of_sequence_detection]
        self.ctx = gssapi.SecurityContext(name=name, mech=KRB5, flags=flags,
                                          creds=creds, usage="initiate")
        self.initial = self.ctx.step()
        self.layer = layer

    def answer(self, data):
        """Our reply to one AUTH 0x18: empty after the AP-REP, then the
        wrapped layer choice with no authzid."""
        if not self.ctx.complete:
            self.ctx.step(data)
            return b""
        self.ctx.unwrap(data)
        return self.ctx.wrap(self.layer, False).message


def exchange(port, target, mode="normal", layer=NO_LAYER, reauth_ccache=None,
             publish=None, client_id=None, timeout=3.0):
    """Runs one connection and returns what the broker sent, e.g.
    ["auth/0x18", "auth/0x18", "connack/0x00", "puback/0x00", "closed"]."""
    sasl = Sasl(target, layer=layer if mode == "layer" else NO_LAYER)
    conn = Connection(port, timeout)
    conn.send(connect_packet(client_id or f"raw-{os.getpid()}-{os.urandom(3).hex()}",
                             sasl.initial))
    try:
        while True:
            kind, reason, data = conn.receive()
            if kind in ("closed", "timeout"):
                return conn.events
            if kind == "auth" and reason == CONTINUE:
                if mode == "abandon":
                    return conn.events
                if not sasl:
                    break  # an AUTH for no exchange of ours: the broker waits
                conn.send(auth_packet(CONTINUE, sasl.answer(data)))
            elif kind == "connack" and reason == 0 and mode in ("reauth", "bare-auth"):
                sasl = None
                if mode == "reauth":
                    sasl = Sasl(target, ccache=reauth_ccache)
                    conn.send(auth_packet(REAUTHENTICATE, sasl.initial))
                else:
                    conn.send(bytes([AUTH, 0]))
            elif kind in ("connack", "auth") and reason == 0:  # (re-)authenticated
                if publish:
                    conn.send(publish_packet(publish))
                    conn.receive()
                break
        # Shows whether the broker keeps the connection (timeout) or closes it.
        conn.sock.settimeout(0.3)
        conn.receive()
        return conn.events
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser(
        description="One raw MQTT 5 GSSAPI-KERBEROS exchange; prints what the broker sent.",
        epilog="modes: " + "; ".join(f"{k}: {v}" for k, v in MODES.items()))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", default="mqtt@broker.kerbsasl.test",
                        help="host-based service name (default %(default)s)")
    parser.add_argument("--mode", choices=MODES, default="normal")
    parser.add_argument("--layer", default="04000000", help="hex layer reply for --mode layer")
    parser.add_argument("--reauth-ccache", help="credential cache for --mode reauth")
    parser.add_argument("--publish", metavar="TOPIC")
    args = parser.parse_args()
    print(" ".join(exchange(args.port, args.target, args.mode, bytes.fromhex(args.layer),
                            args.reauth_ccache, args.publish)))


if __name__ == "__main__":
    main()
