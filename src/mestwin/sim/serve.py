"""``mestwin serve`` and ``mestwin plc map``: a scenario's virtual PLCs on the network.

``serve`` runs a :class:`~mestwin.sim.plant_runtime.PlantRuntime` paced at ``--speed`` x
real time, prints where each machine is served (one OPC UA endpoint for the plant, a Modbus
TCP host:port and unit id per machine), and runs until Ctrl-C or SIGTERM (or ``--until``
simulated time), then stops its servers and exits 0. Everything binds 127.0.0.1 unless
``--host`` says otherwise. Anonymous OPC UA sessions are read-only by default; ``--user
NAME:PASSWORD`` adds an operator account that may write commands and call methods.

``plc map`` prints the Modbus register map of a scenario's machines as markdown: it is
generated from the PackTags table (``mestwin.virtual_plc.tags``) by
``mestwin.virtual_plc.regmap``, the same code the server serves from.

Exit codes: 0 success, 1 a server cannot listen (port in use...), 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from mestwin.plantmodels.eventlog import Retention
from mestwin.sim.events_file import EVENTS_HELP, OutputError, open_output
from mestwin.sim.plant_runtime import PlantRuntime, RuntimeSettings, line_name, machine_ports
from mestwin.virtual_plc.opcua_security import OpcUaSecurity, OpcUaUser, Role
from mestwin.virtual_plc.regmap import Addressing, Profile, WordOrder, register_map_markdown

__all__ = ["add_commands", "endpoint_lines"]

SERVE_EPILOG = """\
Printed lines (stable, one per item):
  OPC UA endpoint: opc.tcp://HOST:PORT
  OPC UA node ids: ns=<index of urn:mestwin:virtual-plc>;s=<line>.<machine>.<tag path>
  Modbus TCP: MACHINE HOST:PORT unit UNIT_ID
  Stopped at simulated time SECONDS s.
  Event log: COUNT events, sha256 HEX.   (with --events, the SHA-256 of FILE)
The scenario's horizon is ignored: the plant runs until stopped (or --until). No event is
kept in memory (only the count and the hash), so a twin can run for days. --truth FILE
writes the ground truth as `mestwin run --truth` does, as the run goes, and finishes it
(machine sums over [warm-up, stop], end line) when serve stops; its header's horizon_s is
--until, or null without it.
"""


def add_commands(subparsers: Any) -> None:
    """Register ``serve`` and ``plc`` (with ``map``) on the ``mestwin`` sub-parsers."""
    serve = subparsers.add_parser(
        "serve", help="serve a scenario's virtual PLCs over OPC UA and Modbus TCP, in real time",
        description="Run SCENARIO paced against the wall clock, serve one virtual PLC per "
        "machine over OPC UA and Modbus TCP, print the endpoints, and run until Ctrl-C or "
        "SIGTERM.", epilog=SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("scenario", help="scenario YAML file")
    serve.add_argument("--speed", default="1", help="simulated seconds per wall second "
                       "(default 1; 'max' runs as fast as possible)")
    serve.add_argument("--until", help="stop after this much simulated time (e.g. 8h)")
    serve.add_argument("--seed", type=int, help="override the scenario's seed")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address every server binds (default 127.0.0.1)")
    serve.add_argument("--opcua-port", type=int, default=4840,
                       help="OPC UA port (default 4840; 0 picks a free one)")
    serve.add_argument("--modbus-port", type=int, default=5020,
                       help="Modbus TCP port (default 5020; 0 picks a free one)")
    serve.add_argument("--no-opcua", action="store_true", help="do not serve OPC UA")
    serve.add_argument("--no-modbus", action="store_true", help="do not serve Modbus TCP")
    serve.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD[:ROLE]",
                       help="OPC UA account (repeatable); ROLE is operator (default: may "
                       "write commands and call methods) or viewer (read-only)")
    serve.add_argument("--anonymous", choices=["viewer", "operator", "off"], default="viewer",
                       help="what anonymous OPC UA sessions may do (default viewer: read-only)")
    serve.add_argument("--security", choices=["none", "sign-encrypt"], default="none",
                       help="OPC UA security policy: none, or Basic256Sha256 Sign & Encrypt "
                       "only (needs --pki)")
    serve.add_argument("--pki", metavar="DIR", help="PKI folder: own/ (server certificate, "
                       "created on first use), trusted/ (client certificates accepted), "
                       "rejected/")
    _add_modbus_options(serve)
    serve.add_argument("--scan-time", type=float, default=0.1,
                       help="shortest PLC scan period in simulated seconds (default 0.1)")
    serve.add_argument("--events", metavar="FILE", help=EVENTS_HELP)
    serve.add_argument("--truth", metavar="FILE",
                       help="write the ground truth to FILE as the run goes (JSON Lines, "
                            "format mestwin-truth v1), finished when serve stops")
    serve.set_defaults(func=_cmd_serve)

    plc = subparsers.add_parser("plc", help="virtual PLC tools (register map)",
                                description="Virtual PLC tools.")
    plc_sub = plc.add_subparsers(dest="plc_command", required=True, metavar="COMMAND")
    rmap = plc_sub.add_parser(
        "map", help="print the Modbus register map of a scenario's machines (markdown)",
        description="Print, as markdown, how to reach each machine of SCENARIO over Modbus "
        "TCP and the register map every machine serves (generated from the PackTags table).")
    rmap.add_argument("scenario", help="scenario YAML file")
    _add_modbus_options(rmap)
    rmap.add_argument("--port", type=int, default=5020,
                      help="Modbus TCP port the map shows (default 5020, as `serve`)")
    rmap.set_defaults(func=_cmd_plc_map)


def _add_modbus_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modbus-profile", choices=[p.value for p in Profile],
                        default=Profile.STANDARD.value,
                        help="register tables used (default standard)")
    parser.add_argument("--word-order", choices=[w.value for w in WordOrder],
                        default=WordOrder.HIGH_FIRST.value,
                        help="word order of 32/64-bit values (default high-first)")
    parser.add_argument("--modbus-addressing", choices=[a.value for a in Addressing],
                        default=Addressing.UNIT_ID.value,
                        help="unit-id: one port, machine i is unit i+1 (default); "
                        "port: one port per machine")


def _fail(command: str, message: object) -> int:
    print(f"mestwin {command}: {message}", file=sys.stderr)
    return 2


def _speed(text: str) -> float | None:
    if text.lower() in ("max", "inf"):
        return None
    speed = float(text)
    if not speed > 0:
        raise ValueError(f"--speed must be positive, got {text}")
    return speed


def _user(text: str) -> OpcUaUser:
    name, sep, rest = text.partition(":")
    password, _, role = rest.partition(":")
    if not (name and sep and password):
        raise ValueError(f"--user expects NAME:PASSWORD[:ROLE], got {text!r}")
    try:
        return OpcUaUser(name, password, Role(role or "operator"))
    except ValueError:
        raise ValueError(f"--user role must be operator or viewer, got {role!r}") from None


def _security(args: argparse.Namespace) -> OpcUaSecurity:
    users = tuple(_user(u) for u in args.user)
    sign = args.security == "sign-encrypt"
    if sign and not args.pki:
        raise ValueError("--security sign-encrypt needs --pki DIR")
    anonymous = args.anonymous != "off"
    return OpcUaSecurity(
        pki_dir=Path(args.pki) if args.pki else None, allow_none=not sign,
        sign_and_encrypt=sign, allow_anonymous=anonymous,
        anonymous_role=Role.OPERATOR if args.anonymous == "operator" else Role.VIEWER,
        users=users)


def _settings(args: argparse.Namespace) -> RuntimeSettings:
    return RuntimeSettings(
        host=args.host, opcua=not args.no_opcua, opcua_port=args.opcua_port,
        security=None if args.no_opcua else _security(args), modbus=not args.no_modbus,
        modbus_port=args.modbus_port, modbus_addressing=Addressing(args.modbus_addressing),
        modbus_profile=Profile(args.modbus_profile), word_order=WordOrder(args.word_order),
        scan_time_s=args.scan_time)


def endpoint_lines(runtime: PlantRuntime, speed: float | None) -> list[str]:
    """What ``serve`` prints once its servers listen."""
    ep, s = runtime.endpoints, runtime.settings
    pace = "as fast as possible" if speed is None else f"{speed:g}x real time"
    lines = [f"mestwin serve: {runtime.scenario.name!r} as line {ep.line}, "
             f"{len(ep.machines)} machines, {pace}"]
    if ep.opcua is not None:
        security = s.security or OpcUaSecurity()
        lines += [f"OPC UA endpoint: {ep.opcua}",
                  f"OPC UA node ids: ns=<index of {ep.namespace_uri}>;s={ep.line}.<machine>"
                  ".<tag path>",
                  "OPC UA security: " + ("Basic256Sha256 Sign & Encrypt"
                                         if security.sign_and_encrypt else "none")
                  + "; anonymous: " + (security.anonymous_role.value
                                       if security.allow_anonymous else "refused")
                  + "; users: " + (", ".join(f"{u.name} ({u.role.value})" for u in security.users)
                                   or "none")]
        if security.pki_dir is not None:
            lines.append(f"OPC UA PKI: server certificate in {security.own_dir}; "
                         f"copy client certificates into {security.trusted_dir}")
    for endpoint in ep.modbus:
        unit = endpoint.unit_id if endpoint.unit_id else "any"
        lines.append(f"Modbus TCP: {endpoint.machine} {endpoint.host}:{endpoint.port} "
                     f"unit {unit}")
    if ep.modbus:
        lines.append(f"Modbus map: profile {s.modbus_profile}, word order {s.word_order} "
                     "(`mestwin plc map SCENARIO` prints it)")
    lines.append("Serving; Ctrl-C or SIGTERM stops.")
    return lines


def _cmd_serve(args: argparse.Namespace) -> int:
    from mestwin.sim.scenario import ScenarioError, load_scenario
    from mestwin.sim.scenario.durations import parse_duration
    from mestwin.sim.scenario.overrides import CommandLine

    try:
        speed = _speed(args.speed)
        until = parse_duration(args.until) if args.until is not None else None
        settings = _settings(args)
    except ValueError as exc:
        return _fail("serve", exc)
    try:
        scenario = load_scenario(args.scenario, {"seed": args.seed}, CommandLine(
            "mestwin serve", {"seed": f"--seed {args.seed}"} if args.seed is not None else {}))
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with contextlib.ExitStack() as stack:
        try:
            events = open_output(stack, "--events", args.events)
            truth = open_output(stack, "--truth", args.truth)
        except OutputError as exc:
            return _fail("serve", str(exc))
        retention = Retention.STREAM if events is not None else Retention.NONE
        runtime = PlantRuntime(scenario, settings, until=until, retention=retention,
                               events=events, truth=truth)
        return asyncio.run(_serve(runtime, speed))


async def _serve(runtime: PlantRuntime, speed: float | None) -> int:
    try:
        await runtime.start()
    except OSError as exc:
        print(f"mestwin serve: cannot listen: {exc}", file=sys.stderr)
        await runtime.stop()
        return 1
    for line in endpoint_lines(runtime, speed):
        print(line, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.pace(speed)
    finished, stopped = asyncio.create_task(runtime.wait()), asyncio.create_task(stop.wait())
    code = 0
    try:
        await asyncio.wait([finished, stopped], return_when=asyncio.FIRST_COMPLETED)
        if finished.done() and finished.exception() is not None:
            print(f"mestwin serve: the simulation failed: {finished.exception()!r}",
                  file=sys.stderr)
            code = 1
    finally:
        for task in (finished, stopped):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runtime.stop()
    print(f"Stopped at simulated time {runtime.now:.3f} s.", flush=True)
    log = runtime.log
    print(f"Event log: {len(log)} events, sha256 {log.sha256()}.", flush=True)
    return code


def _cmd_plc_map(args: argparse.Namespace) -> int:
    from mestwin.sim.scenario import ScenarioError, build_plant, load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    machines = list(machine_ports(build_plant(scenario)))
    text = register_map_markdown(machines, args.modbus_profile, args.word_order,
                                 args.modbus_addressing, args.port)
    title, _, rest = text.partition("\n")
    print(f"{title}: {scenario.name} (line {line_name(scenario.name)})\n{rest}")
    return 0
