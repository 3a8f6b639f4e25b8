"""A generic gRPC client that is not ours: Python grpcio with stubs generated from proto/.

It calls the hub with a dev profile's certificate, key and token, and prints one JSON object
with what it saw. Used by tests/tests/interop.rs; runnable by hand against `slt-hub serve --dev`:

    python tests/interop/python_client.py --profile-dir slt-data --org ngo-beta --role analyst \
        --endpoint 127.0.0.1:50051
"""

import argparse
import importlib
import json
import pathlib
import sys
import tempfile

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[2]


def generate_stubs(out_dir: pathlib.Path) -> None:
    proto_dir = ROOT / "proto"
    files = [str(p.relative_to(proto_dir)) for p in (proto_dir / "slt" / "v1").glob("*.proto")]
    files.append("google/type/date.proto")
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    status = protoc.main(
        [
            "protoc",
            f"-I{proto_dir}",
            f"-I{well_known}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *files,
        ]
    )
    if status != 0:
        raise SystemExit(f"protoc failed with status {status}")
    # Generated modules import each other as packages. `google` stays a namespace package
    # (no __init__.py) so that google.type joins the installed google.protobuf.
    for package in ["slt", "slt/v1"]:
        (out_dir / package / "__init__.py").touch()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile-dir", required=True, help="the dev data directory")
    parser.add_argument("--org", required=True)
    parser.add_argument("--role", required=True)
    parser.add_argument("--endpoint", required=True, help="host:port")
    args = parser.parse_args()

    data = pathlib.Path(args.profile_dir)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(data / "pki" / "ca.pem").read_bytes(),
        private_key=(data / "orgs" / args.org / "key.pem").read_bytes(),
        certificate_chain=(data / "orgs" / args.org / "cert.pem").read_bytes(),
    )
    token = (data / "tokens" / f"{args.org}.{args.role}.jwt").read_text().strip()

    with tempfile.TemporaryDirectory() as generated:
        generate_stubs(pathlib.Path(generated))
        sys.path.insert(0, generated)
        service_pb2 = importlib.import_module("slt.v1.incident_service_pb2")
        service_grpc = importlib.import_module("slt.v1.incident_service_pb2_grpc")

        with grpc.secure_channel(args.endpoint, credentials) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="slt.v1.IncidentService"), timeout=10
            )

            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            answers = reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
            )
            services = sorted(
                service.name for answer in answers for service in answer.list_services_response.service
            )

            incidents = service_grpc.IncidentServiceStub(channel)
            listed = incidents.ListIncidents(
                service_pb2.ListIncidentsRequest(page_size=50),
                metadata=[("authorization", f"Bearer {token}")],
                timeout=10,
            )
            try:
                incidents.ListIncidents(service_pb2.ListIncidentsRequest(page_size=1), timeout=10)
                unauthenticated = None
            except grpc.RpcError as error:
                unauthenticated = error.code().name

    print(
        json.dumps(
            {
                "health": health_pb2.HealthCheckResponse.ServingStatus.Name(health.status),
                "reflection_services": services,
                "incident_ids": [incident.id for incident in listed.incidents],
                "redacted_fields": [list(incident.redacted_fields) for incident in listed.incidents],
                "policy_version": listed.policy_version,
                "without_token": unauthenticated,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
