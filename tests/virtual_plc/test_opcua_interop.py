"""Interoperability of the virtual PLCs' OPC UA server with an independent client.

node-opcua (tests/interop/node, installed with ``npm ci`` there) runs in its own process
and prints JSON; the plant runs paced by the real-time driver meanwhile. These tests never
skip: without node or its packages they fail and say what to install.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from mestwin.plantmodels import EventKind, MachineState
from mestwin.plantmodels.distributions import Constant
from mestwin.plantmodels.plant import Plant
from mestwin.sim.realtime import RealtimeDriver
from mestwin.virtual_plc.opcua_security import (
    OpcUaSecurity,
    OpcUaUser,
    Role,
    generate_certificate,
)
from mestwin.virtual_plc.opcua_server import NAMESPACE_URI, PlcOpcUaServer
from mestwin.virtual_plc.packml import Command, State
from mestwin.virtual_plc.plc import VirtualPLC
from tests.interop import clients

pytestmark = pytest.mark.interop

SCRIPT = clients.NODE_DIR / "ua_client.mjs"
CLIENT_URI = "urn:mestwin:interop:node-client"
M = f"nsu={NAMESPACE_URI};s=Line1.M0"
USER = {"name": "operator", "password": "op-secret"}


@pytest.fixture(autouse=True)
def node() -> str:
    """node with node-opcua-client, or a failure at once saying what to install; checked
    before any server or event loop starts (a failure inside the loop used to hang)."""
    return clients.node_opcua()


async def run_client(endpoint: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Run the node client with *plan*; returns its JSON answer."""
    process = await asyncio.create_subprocess_exec(
        clients.node_opcua(),
        str(SCRIPT),
        endpoint,
        json.dumps(plan),
        cwd=clients.NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    assert lines, f"node client printed no JSON; stderr:\n{err.decode()[-2000:]}"
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


def make_plcs() -> tuple[Plant, list[VirtualPLC]]:
    plant = Plant(warmup=0)
    plant.add_source("src", product="part", saturated=True)
    plant.add_station(
        "st0",
        servers=1,
        buffer=5,
        process_time={"*": Constant(2.0).sampler(None)},  # type: ignore[arg-type]
        ideal_cycle_time={"*": 2.0},
    )
    plant.connect("src", "st0")
    return plant, [VirtualPLC(plant.stations["st0"], "Line1", "M0", plant.env)]


def security(tmp_path: Path, **kwargs: Any) -> OpcUaSecurity:
    return OpcUaSecurity(
        pki_dir=tmp_path / "pki",
        sign_and_encrypt=True,
        users=(OpcUaUser("operator", "op-secret", Role.OPERATOR),),
        **kwargs,
    )


def client_certificate(tmp_path: Path, name: str) -> dict[str, str]:
    """A client certificate as PEM files, in the plan's ``security`` form."""
    bundle = generate_certificate(CLIENT_URI, name, client=True)
    cert, key = tmp_path / f"{name}_cert.pem", tmp_path / f"{name}_key.pem"
    bundle.write(cert, key)
    return {
        "policy": "Basic256Sha256",
        "mode": "SignAndEncrypt",
        "certificate": str(cert),
        "privateKey": str(key),
        "applicationUri": CLIENT_URI,
        "pkiDir": str(tmp_path / f"{name}_pki"),
    }


async def serving(
    plcs: list[VirtualPLC], plant: Plant, sec: OpcUaSecurity, speed: float = 20.0
) -> tuple[PlcOpcUaServer, RealtimeDriver, asyncio.Task[None]]:
    driver = RealtimeDriver(plant.env, speed=speed)
    server = PlcOpcUaServer(plcs, security=sec, driver=driver, publish_interval=0.05)
    await server.start()
    return server, driver, asyncio.create_task(driver.run_until(None))


async def shutdown(
    server: PlcOpcUaServer, driver: RealtimeDriver, task: asyncio.Task[None]
) -> None:
    driver.stop()
    await task
    await server.stop()


@pytest.mark.timeout(120)
def test_node_client_over_policy_none_browses_reads_subscribes_writes_and_calls(
    tmp_path: Path,
) -> None:
    """Over SecurityPolicy None, with an operator login, node-opcua browses the machine,
    reads counters, receives data changes, stops the machine by CntrlCmd + CmdChangeRequest,
    then resets and starts it with methods."""

    async def main() -> None:
        plant, plcs = make_plcs()
        # policy None only: no trust list, so node-opcua's own certificate is not checked
        open_server = OpcUaSecurity(users=(OpcUaUser("operator", "op-secret", Role.OPERATOR),))
        server, driver, task = await serving(plcs, plant, open_server)
        plan = {
            "user": USER,
            "steps": [
                {"op": "browse", "node": M},
                {
                    "op": "read",
                    "nodes": [
                        f"{M}.PackTags.Admin.ProdProcessedCount[0].AccCount",
                        f"{M}.PackTags.Status.StateCurrent",
                    ],
                },
                {
                    "op": "subscribe",
                    "nodes": [f"{M}.PackTags.Admin.ProdProcessedCount[0].AccCount"],
                    "durationMs": 1500,
                },
                {
                    "op": "write",
                    "node": f"{M}.PackTags.Command.CntrlCmd",
                    "dataType": "Int32",
                    "value": int(Command.STOP),
                },
                {
                    "op": "write",
                    "node": f"{M}.PackTags.Command.CmdChangeRequest",
                    "dataType": "Boolean",
                    "value": True,
                },
                {
                    "op": "write",
                    "node": f"{M}.PackTags.Command.CntrlCmd",
                    "dataType": "Double",
                    "value": 1.5,
                },
                {"op": "sleep", "ms": 400},
                {"op": "read", "nodes": [f"{M}.PackTags.Status.StateCurrent",
                                         f"{M}.PackTags.Admin.ProdProcessedCount[0].AccCount"]},
                {"op": "call", "object": M, "method": f"{M}.Reset"},
                {"op": "sleep", "ms": 300},
                {"op": "call", "object": M, "method": f"{M}.Start"},
                {"op": "call", "object": M, "method": f"{M}.Clear"},
            ],
        }
        try:
            answer = await run_client(server.endpoint, plan)
        finally:
            await shutdown(server, driver, task)
        assert answer["ok"], answer
        browse, read, sub, w1, w2, w_bad, _, state, reset, _, start, clear = answer["results"]
        names = {r["browseName"] for r in browse["references"]}
        assert {"PackTags", "Identification", "JobManagement", "Stop"} <= names
        assert read["values"][0]["dataType"] == "UInt32"
        assert read["values"][1]["value"] == int(State.EXECUTE)
        counts = [c["value"] for c in sub["changes"]]
        assert len(counts) >= 3
        assert counts == sorted(counts)
        assert (w1["status"], w2["status"], w_bad["status"]) == ("Good", "Good", "BadTypeMismatch")
        assert state["values"][0]["value"] == int(State.STOPPED)
        # the counter node-opcua read while stopped equals the plant's own count of cycles
        # completed before it stopped (ground truth from the event log)
        stopped_at = next(r.t for r in plant.log.records(EventKind.STATE)
                          if r.state == MachineState.STOPPED)
        truth = sum(1 for r in plant.log.records(EventKind.COMPLETE) if r.t <= stopped_at)
        assert truth > 0
        assert state["values"][1]["value"] == truth
        assert (reset["status"], start["status"]) == ("Good", "Good")
        assert clear["status"] == "BadInvalidState"
        taken = [(r.command, r.accepted) for r in plcs[0].command_results]
        assert taken == [(Command.STOP, True), (Command.RESET, True), (Command.START, True)]

    asyncio.run(main())


@pytest.mark.timeout(120)
def test_node_client_signs_and_encrypts_with_a_trusted_certificate(tmp_path: Path) -> None:
    """Basic256Sha256 SignAndEncrypt, a client certificate in the trust list and a user
    login: browse, read, subscribe, a PackML command and method calls work, the counter read
    equals the plant's count; anonymous writes are denied."""

    async def main() -> None:
        plant, plcs = make_plcs()
        sec = security(tmp_path, allow_none=False)
        client = client_certificate(tmp_path, "trusted")
        sec.trust(generate_der(client["certificate"]))
        server, driver, task = await serving(plcs, plant, sec)
        steps = [
            {
                "op": "read",
                "nodes": [f"{M}.Identification.Manufacturer", f"{M}.Diagnostics.SpeedFactor"],
            },
            {
                "op": "write",
                "node": f"{M}.PackTags.Command.UnitMode",
                "dataType": "Int32",
                "value": 2,
            },
            {
                "op": "call",
                "object": f"{M}.JobManagement",
                "method": f"{M}.JobManagement.Store",
                "args": [
                    {"dataType": "String", "value": "J-7"},
                    {"dataType": "String", "value": "part"},
                    {"dataType": "UInt32", "value": 4},
                    {"dataType": "String", "value": ""},
                ],
            },
            {"op": "browse", "node": M},
            {"op": "subscribe", "nodes": [f"{M}.PackTags.Admin.ProdProcessedCount[0].AccCount"],
             "durationMs": 1200},
            {"op": "write", "node": f"{M}.PackTags.Command.CntrlCmd", "dataType": "Int32",
             "value": int(Command.STOP)},
            {"op": "write", "node": f"{M}.PackTags.Command.CmdChangeRequest",
             "dataType": "Boolean", "value": True},
            {"op": "sleep", "ms": 400},
            {"op": "read", "nodes": [f"{M}.PackTags.Status.StateCurrent",
                                     f"{M}.PackTags.Admin.ProdProcessedCount[0].AccCount"]},
        ]
        try:
            operator = await run_client(
                server.endpoint, {"security": client, "user": USER, "steps": steps}
            )
            anonymous = await run_client(
                server.endpoint,
                {
                    "security": client,
                    "steps": [
                        {
                            "op": "write",
                            "node": f"{M}.PackTags.Command.UnitMode",
                            "dataType": "Int32",
                            "value": 3,
                        }
                    ],
                },
            )
        finally:
            await shutdown(server, driver, task)
        assert operator["ok"], operator
        read, write, store, browse, sub, _, _, _, stopped = operator["results"]
        assert "PackTags" in {r["browseName"] for r in browse["references"]}
        counts = [c["value"] for c in sub["changes"]]
        assert len(counts) >= 2
        assert counts == sorted(counts)
        assert stopped["values"][0]["value"] == int(State.STOPPED)
        stopped_at = next(r.t for r in plant.log.records(EventKind.STATE)
                          if r.state == MachineState.STOPPED)
        truth = sum(1 for r in plant.log.records(EventKind.COMPLETE) if r.t <= stopped_at)
        assert stopped["values"][1]["value"] == truth > 0
        assert read["values"][0]["value"] == "mestwin"
        assert read["values"][1]["value"] == pytest.approx(20.0)
        assert write["status"] == "Good"
        assert store["status"] == "Good"
        assert store["outputs"] == [0]
        assert plcs[0].tags["PackTags.Command.UnitMode"] == 2
        assert server.job_lists["Line1.M0"].get("J-7") is not None
        assert anonymous["ok"], anonymous
        assert anonymous["results"][0]["status"] == "BadUserAccessDenied"

    asyncio.run(main())


@pytest.mark.timeout(120)
def test_node_client_with_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    """A certificate not in the trust list gets no session; the server keeps it in rejected/."""

    async def main() -> None:
        plant, plcs = make_plcs()
        sec = security(tmp_path)
        sec.trust(generate_certificate("urn:someone:else", "other", client=True).certificate_der)
        client = client_certificate(tmp_path, "stranger")
        server, driver, task = await serving(plcs, plant, sec)
        try:
            answer = await run_client(
                server.endpoint,
                {
                    "security": client,
                    "user": USER,
                    "steps": [{"op": "read", "nodes": [f"{M}.PackTags.Status.StateCurrent"]}],
                },
            )
        finally:
            await shutdown(server, driver, task)
        assert not answer["ok"]
        assert answer["stage"] in ("connect", "session")
        assert [p.read_bytes() for p in sec.rejected_dir.iterdir()] == [
            generate_der(client["certificate"])
        ]

    asyncio.run(main())


def generate_der(pem_path: str) -> bytes:
    """DER bytes of a PEM certificate file."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(Path(pem_path).read_bytes())
    return cert.public_bytes(Encoding.DER)
