// An independent OPC UA client (node-opcua) driven by a JSON plan, for mestwin's interop tests.
//
// usage: node ua_client.mjs <endpoint> <plan-json>
//
// plan = {
//   "security": {"policy": "None" | "Basic256Sha256", "mode": "None" | "Sign" | "SignAndEncrypt",
//                "certificate": "<client cert .pem>", "privateKey": "<key .pem>",
//                "applicationUri": "<uri in the cert SAN>", "pkiDir": "<scratch dir>"},
//   "user": {"name": "...", "password": "..."} | null,          (null: anonymous)
//   "steps": [
//     {"op": "browse", "node": "<nodeid>"},
//     {"op": "read", "nodes": ["<nodeid>", ...]},
//     {"op": "write", "node": "<nodeid>", "dataType": "Int32", "value": 3},
//     {"op": "call", "object": "<nodeid>", "method": "<nodeid>",
//      "args": [{"dataType": "String", "value": "J1"}]},
//     {"op": "subscribe", "nodes": ["<nodeid>", ...], "samplingInterval": 50,
//      "durationMs": 1500},
//     {"op": "sleep", "ms": 100}
//   ]
// }
// NodeIds may be written "nsu=<namespace uri>;s=<id>": the client reads the server's
// NamespaceArray and replaces the URI by its index, as a real client must.
//
// Prints one JSON document on stdout: {"ok": true, "results": [...]} or
// {"ok": false, "stage": "connect" | "session" | "step", "error": "..."}; exit code 0 / 1.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";
import {
    AttributeIds,
    ClientMonitoredItem,
    ClientSubscription,
    DataType,
    MessageSecurityMode,
    OPCUAClient,
    SecurityPolicy,
    TimestampsToReturn,
    UserTokenType,
} from "node-opcua-client";

const [endpoint, planText] = process.argv.slice(2);
if (!endpoint || !planText) {
    console.error("usage: node ua_client.mjs <endpoint> <plan-json>");
    process.exit(64);
}
const plan = JSON.parse(planText);
const watchdog = setTimeout(() => finish({ ok: false, stage: "timeout", error: "watchdog" }), plan.timeoutMs ?? 30000);

function finish(doc) {
    clearTimeout(watchdog);
    process.stdout.write(JSON.stringify(doc) + "\n", () => process.exit(doc.ok ? 0 : 1));
}

function jsonValue(value) {
    if (value === null || value === undefined) return null;
    if (value instanceof Date) return value.toISOString();
    if (typeof value === "bigint") return Number(value);
    if (Array.isArray(value)) return value.map(jsonValue);
    if (typeof value === "object" && "high" in value && "low" in value) return value; // Int64
    if (typeof value === "object") return String(value);
    return value;
}

function variantJson(variant) {
    // node-opcua gives 64-bit integers as [high, low] pairs of 32-bit words
    if ((variant.dataType === DataType.UInt64 || variant.dataType === DataType.Int64) && Array.isArray(variant.value)) {
        return variant.value[0] * 2 ** 32 + variant.value[1];
    }
    return jsonValue(variant.value);
}

function dataValueJson(dv) {
    return {
        status: dv.statusCode.name,
        value: jsonValue(dv.value ? dv.value.value : null),
        dataType: dv.value ? DataType[dv.value.dataType] : null,
        sourceTimestamp: dv.sourceTimestamp ? dv.sourceTimestamp.toISOString() : null,
    };
}

async function main() {
    const security = plan.security ?? { policy: "None", mode: "None" };
    const pkiDir = security.pkiDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "ua-client-pki-"));
    const certificateManager = new OPCUACertificateManager({
        rootFolder: pkiDir,
        automaticallyAcceptUnknownCertificate: true, // trust the server on first use
    });
    const options = {
        applicationName: "mestwin-interop-node",
        endpointMustExist: false,
        securityPolicy: SecurityPolicy[security.policy],
        securityMode: MessageSecurityMode[security.mode],
        connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
        requestedSessionTimeout: 20000,
        keepSessionAlive: false,
        clientCertificateManager: certificateManager,
    };
    if (security.certificate) {
        options.certificateFile = security.certificate;
        options.privateKeyFile = security.privateKey;
        options.applicationUri = security.applicationUri;
    }
    const client = OPCUAClient.create(options);
    try {
        await client.connect(endpoint);
    } catch (err) {
        return finish({ ok: false, stage: "connect", error: String(err && err.message) });
    }
    let session;
    try {
        const identity = plan.user
            ? { type: UserTokenType.UserName, userName: plan.user.name, password: plan.user.password }
            : { type: UserTokenType.Anonymous };
        session = await client.createSession(identity);
    } catch (err) {
        await client.disconnect().catch(() => {});
        return finish({ ok: false, stage: "session", error: String(err && err.message) });
    }
    const results = [];
    try {
        const nsArray = (await session.read({ nodeId: "ns=0;i=2255", attributeId: AttributeIds.Value })).value.value;
        const resolve = (id) => {
            const m = /^nsu=([^;]+);(.*)$/.exec(id);
            if (!m) return id;
            const idx = nsArray.indexOf(m[1]);
            if (idx < 0) throw new Error(`namespace ${m[1]} not on server`);
            return `ns=${idx};${m[2]}`;
        };
        for (const step of plan.steps ?? []) {
            results.push(await runStep(session, step, resolve));
        }
    } catch (err) {
        await session.close().catch(() => {});
        await client.disconnect().catch(() => {});
        return finish({ ok: false, stage: "step", error: String(err && err.message), results });
    }
    await session.close().catch(() => {});
    await client.disconnect().catch(() => {});
    finish({ ok: true, results });
}

async function runStep(session, step, resolve) {
    switch (step.op) {
        case "browse": {
            const res = await session.browse(resolve(step.node));
            return {
                op: "browse",
                status: res.statusCode.name,
                references: (res.references ?? []).map((r) => ({
                    browseName: r.browseName.name,
                    nodeId: r.nodeId.toString(),
                    nodeClass: r.nodeClass,
                })),
            };
        }
        case "read": {
            const dvs = await session.read(step.nodes.map((n) => ({ nodeId: resolve(n), attributeId: AttributeIds.Value })));
            return { op: "read", values: dvs.map(dataValueJson) };
        }
        case "write": {
            const status = await session.write({
                nodeId: resolve(step.node),
                attributeId: AttributeIds.Value,
                value: { value: { dataType: DataType[step.dataType], value: step.value } },
            });
            return { op: "write", status: status.name };
        }
        case "call": {
            const res = await session.call({
                objectId: resolve(step.object),
                methodId: resolve(step.method),
                inputArguments: (step.args ?? []).map((a) => ({ dataType: DataType[a.dataType], value: a.value })),
            });
            return {
                op: "call",
                status: res.statusCode.name,
                outputs: (res.outputArguments ?? []).map(variantJson),
            };
        }
        case "subscribe": {
            const subscription = ClientSubscription.create(session, {
                requestedPublishingInterval: step.publishingInterval ?? 50,
                requestedLifetimeCount: 1000,
                requestedMaxKeepAliveCount: 20,
                maxNotificationsPerPublish: 0,
                publishingEnabled: true,
                priority: 1,
            });
            const changes = [];
            const items = step.nodes.map((n) => {
                const item = ClientMonitoredItem.create(
                    subscription,
                    { nodeId: resolve(n), attributeId: AttributeIds.Value },
                    { samplingInterval: step.samplingInterval ?? 50, queueSize: 100, discardOldest: true },
                    TimestampsToReturn.Both,
                );
                item.on("changed", (dv) => changes.push({ node: n, ...dataValueJson(dv) }));
                return item;
            });
            await new Promise((r) => setTimeout(r, step.durationMs ?? 1000));
            await subscription.terminate();
            return { op: "subscribe", monitored: items.length, changes };
        }
        case "sleep":
            await new Promise((r) => setTimeout(r, step.ms));
            return { op: "sleep" };
        default:
            throw new Error(`unknown op ${step.op}`);
    }
}

main().catch((err) => finish({ ok: false, stage: "main", error: String(err && err.stack) }));
