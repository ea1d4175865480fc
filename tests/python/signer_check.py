"""Signs one request with the Huawei Cloud Python SDK's own signer and prints the
Authorization header it computed, so the tests can compare it with the proxy's.

Reads JSON on stdin: {"method", "host", "path", "query": [[key, value], ...] (decoded),
"headers": {name: value} (the headers to sign, X-Sdk-Date included), "body", "ak", "sk"}.
Prints {"authorization": "..."}.
"""

import json
import sys
from types import SimpleNamespace

from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer


def main():
    spec = json.load(sys.stdin)
    request = SdkRequest(
        method=spec["method"],
        schema="http",
        host=spec["host"],
        resource_path=spec["path"],
        query_params=[tuple(pair) for pair in spec["query"]],
        header_params=dict(spec["headers"]),
        body=spec.get("body") or "",
    )
    credentials = SimpleNamespace(ak=spec["ak"], sk=spec["sk"])
    signed = Signer(credentials).sign(request)
    json.dump({"authorization": signed.header_params["Authorization"]}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
