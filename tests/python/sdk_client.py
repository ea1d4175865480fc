"""Drives the real Huawei Cloud Python SDK (huaweicloudsdkiam) against an endpoint.

Used by the end-to-end tests and the demo. One call per invocation; prints one JSON
object describing what the SDK returned, plus the X-Request-Id and X-Audit-Id response
headers captured with the SDK's own response-handler hook.

    python sdk_client.py --endpoint http://127.0.0.1:8080 --ak AK --sk SK \
        --domain-id D delete --user-id U --serial-number S
    python sdk_client.py ... list [--user-id U]
"""

import argparse
import json
import sys

from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkiam.v5 import (
    DeleteVirtualMfaDeviceV5Request,
    IamClient,
    ListMfaDevicesV5Request,
)


def build_client(args, seen):
    def on_response(**kwargs):
        response = kwargs.get("response")
        if response is not None:
            seen["x_request_id"] = response.headers.get("X-Request-Id")
            seen["x_audit_id"] = response.headers.get("X-Audit-Id")
            seen["status"] = response.status_code

    handler = HttpHandler().add_response_handler(on_response)
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    if args.ca_file:
        config.ssl_ca_cert = args.ca_file
    credentials = GlobalCredentials(args.ak, args.sk, args.domain_id)
    if args.security_token:
        credentials = credentials.with_security_token(args.security_token)
    return (
        IamClient.new_builder()
        .with_credentials(credentials)
        .with_endpoints([args.endpoint])
        .with_http_config(config)
        .with_http_handler(handler)
        .build()
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--ak", required=True)
    parser.add_argument("--sk", required=True)
    parser.add_argument("--domain-id", required=True)
    parser.add_argument("--security-token")
    parser.add_argument("--ca-file")
    sub = parser.add_subparsers(dest="op", required=True)
    delete = sub.add_parser("delete")
    delete.add_argument("--user-id", required=True)
    delete.add_argument("--serial-number", required=True)
    listing = sub.add_parser("list")
    listing.add_argument("--user-id")
    args = parser.parse_args()

    seen = {}
    client = build_client(args, seen)
    result = {"op": args.op}
    try:
        if args.op == "delete":
            request = DeleteVirtualMfaDeviceV5Request(
                user_id=args.user_id, serial_number=args.serial_number
            )
            response = client.delete_virtual_mfa_device_v5(request)
            result.update(ok=True, status=response.status_code)
        else:
            request = ListMfaDevicesV5Request(user_id=args.user_id)
            response = client.list_mfa_devices_v5(request)
            devices = [d.to_dict() for d in (response.mfa_devices or [])]
            result.update(ok=True, status=response.status_code, mfa_devices=devices)
    except exceptions.ClientRequestException as e:
        result.update(
            ok=False,
            status=e.status_code,
            error_code=e.error_code,
            error_msg=e.error_msg,
            request_id=e.request_id,
        )
    except exceptions.SdkException as e:
        result.update(ok=False, status=None, error_msg=str(e))
    result.update(seen)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
