"""Sends the probes host checks ask for and records each answer in the HostView.

DNS with dnspython, TCP connects, ICMP echoes with scapy; sent only when asked, every wait
bounded, each answer (or why it was not sent) recorded in the view, never raised. scapy is
imported only when an ICMP probe is sent, because importing it costs about a second.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import random
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from globalnet_doctor.adapters._host_common import describe
from globalnet_doctor.host_view import (
    DnsAnswer,
    DnsQuery,
    HostProbe,
    HostProbeAnswer,
    HostView,
    IcmpAnswer,
    IcmpEcho,
    IcmpOutcome,
    TcpAnswer,
    TcpConnect,
    TcpOutcome,
)

PROBE_TIMEOUT = 2.0
"""Seconds any one probe may wait for its answer."""
_PARALLEL_PROBES = 64


def send_probes(
    view: HostView, probes: Sequence[HostProbe], timeout: float = PROBE_TIMEOUT
) -> None:
    """Sends every probe (DNS and TCP in parallel, ICMP in one scapy exchange alongside) and
    records each answer in the view. Nothing waits longer than ``timeout`` per probe."""
    unique = list(dict.fromkeys(probes))
    echoes = [p for p in unique if isinstance(p, IcmpEcho)]
    others = [p for p in unique if not isinstance(p, IcmpEcho)]
    answers: dict[HostProbe, HostProbeAnswer] = {}
    with ThreadPoolExecutor(_PARALLEL_PROBES, thread_name_prefix="probe") as pool:
        icmp = pool.submit(_send_echoes, echoes, timeout) if echoes else None
        senders: list[tuple[HostProbe, Callable[[], HostProbeAnswer]]] = []
        for probe in others:
            if isinstance(probe, DnsQuery):
                senders.append((probe, _dns_sender(probe, timeout)))
            elif isinstance(probe, TcpConnect):
                senders.append((probe, _tcp_sender(probe, timeout)))
        futures = [(sent, pool.submit(send)) for sent, send in senders]
        for sent, future in futures:
            answers[sent] = future.result()
        if icmp is not None:
            answers.update(icmp.result())
    view.probe_answers.update(answers)


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _dns_sender(query: DnsQuery, timeout: float) -> Callable[[], DnsAnswer]:
    def send() -> DnsAnswer:
        try:
            import dns.exception
            import dns.message
            import dns.query
            import dns.rcode
            import dns.rdatatype
        except ImportError:
            return DnsAnswer(not_sent="dnspython is not installed")
        name = query.name if query.name.endswith(".") else query.name + "."
        rdtype = dns.rdatatype.from_text(query.record_type)
        message = dns.message.make_query(name, rdtype)
        started = time.monotonic()
        try:
            response, _ = dns.query.udp_with_fallback(message, query.nameserver, timeout=timeout)
        except dns.exception.Timeout:
            return DnsAnswer(error=f"timeout after {timeout:g} s", elapsed_ms=_elapsed_ms(started))
        except OSError as exc:
            return DnsAnswer(error=describe(exc), elapsed_ms=_elapsed_ms(started))
        except Exception as exc:  # malformed answers and the like: recorded, never raised
            return DnsAnswer(error=describe(exc), elapsed_ms=_elapsed_ms(started))
        addresses = tuple(
            item.to_text()
            for rrset in response.answer
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
            for item in rrset
        )
        return DnsAnswer(
            rcode=dns.rcode.to_text(response.rcode()),
            addresses=addresses,
            elapsed_ms=_elapsed_ms(started),
        )

    return send


def _tcp_sender(probe: TcpConnect, timeout: float) -> Callable[[], TcpAnswer]:
    def send() -> TcpAnswer:
        started = time.monotonic()
        try:
            with socket.create_connection((probe.address, probe.port), timeout=timeout):
                return TcpAnswer(TcpOutcome.CONNECTED, elapsed_ms=_elapsed_ms(started))
        except ConnectionRefusedError:
            outcome, detail = TcpOutcome.REFUSED, "connection refused"
        except TimeoutError:
            outcome, detail = TcpOutcome.TIMEOUT, f"no answer within {timeout:g} s"
        except OSError as exc:
            unreachable = exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)
            outcome = TcpOutcome.UNREACHABLE if unreachable else TcpOutcome.FAILED
            detail = describe(exc)
        return TcpAnswer(outcome, detail, _elapsed_ms(started))

    return send


_ICMP_ERRORS = {
    3: "destination unreachable",
    5: "redirect",
    11: "time exceeded",
    12: "parameter problem",
}
_UNREACHABLE_CODES = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    13: "communication administratively prohibited",
}


def raw_sockets_allowed() -> str | None:
    """None when this process may open raw sockets, else why not."""
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except PermissionError:
        return "raw sockets need CAP_NET_RAW (run gdoctor as root for ICMP probes)"
    except OSError as exc:
        return f"cannot open a raw socket: {describe(exc)}"
    probe.close()
    return None


def _is_ipv4(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 4
    except ValueError:
        return False


def _send_echoes(echoes: Sequence[IcmpEcho], timeout: float) -> dict[HostProbe, HostProbeAnswer]:
    ipv4 = [e for e in echoes if _is_ipv4(e.address)]
    answers: dict[HostProbe, HostProbeAnswer] = {
        e: IcmpAnswer(IcmpOutcome.NOT_SENT, detail="ICMP probes are sent to IPv4 addresses only")
        for e in echoes
        if e not in ipv4
    }
    if not ipv4:
        return answers
    refused = raw_sockets_allowed()
    if refused is not None:
        answers.update({e: IcmpAnswer(IcmpOutcome.NOT_SENT, detail=refused) for e in ipv4})
        return answers
    started = time.monotonic()
    try:
        replies = _scapy_echoes([e.address for e in ipv4], timeout)
    except ImportError:
        detail = "scapy is not installed"
        answers.update({e: IcmpAnswer(IcmpOutcome.NOT_SENT, detail=detail) for e in ipv4})
        return answers
    except Exception as exc:  # a scapy failure is recorded per probe, never raised
        detail = describe(exc)
        answers.update({e: IcmpAnswer(IcmpOutcome.FAILED, detail=detail) for e in ipv4})
        return answers
    elapsed = _elapsed_ms(started)
    for echo in ipv4:
        reply = replies.get(echo.address)
        if reply is None:
            answers[echo] = IcmpAnswer(
                IcmpOutcome.TIMEOUT, detail=f"no reply within {timeout:g} s", elapsed_ms=elapsed
            )
            continue
        source, icmp_type, icmp_code = reply
        if icmp_type == 0:
            answers[echo] = IcmpAnswer(
                IcmpOutcome.REPLY, source, icmp_type, icmp_code, elapsed_ms=elapsed
            )
        else:
            kind = _ICMP_ERRORS.get(icmp_type, f"ICMP type {icmp_type}")
            if icmp_type == 3:
                kind += f" ({_UNREACHABLE_CODES.get(icmp_code, f'code {icmp_code}')})"
            answers[echo] = IcmpAnswer(
                IcmpOutcome.ERROR, source, icmp_type, icmp_code, kind, elapsed_ms=elapsed
            )
    return answers


def _scapy_echoes(addresses: Sequence[str], timeout: float) -> dict[str, tuple[str, int, int]]:
    """address -> (reply source, ICMP type, code) for each echo that got an answer."""
    # scapy logs warnings about interfaces while importing; they are not gdoctor's output.
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.config import conf
    from scapy.layers.inet import ICMP, IP
    from scapy.sendrecv import sr
    from scapy.supersocket import L3RawSocket

    # The kernel routes and resolves neighbours (scapy's own L3 socket would ARP by itself),
    # so the probe follows exactly the route the checks report.
    conf.L3socket = L3RawSocket
    ident = random.randrange(1, 0xFFFF)
    packets = [
        IP(dst=address) / ICMP(id=ident, seq=index)
        for index, address in enumerate(addresses, start=1)
    ]
    answered, _ = sr(packets, timeout=timeout, verbose=0)
    found: dict[str, tuple[str, int, int]] = {}
    for sent, received in answered:
        icmp = received[ICMP]
        found[str(sent[IP].dst)] = (str(received[IP].src), int(icmp.type), int(icmp.code))
    return found
