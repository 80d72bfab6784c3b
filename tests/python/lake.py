"""The object-store side of the data-lake tests, with clients tokentally does not use:
the Azure Storage Blob SDK for Azurite and boto3 for moto's S3 server.

usage:
  lake.py azure ENDPOINT create CONTAINER          create a container in Azurite
  lake.py azure ENDPOINT download CONTAINER PREFIX DEST
  lake.py azure ENDPOINT list CONTAINER PREFIX     one object name a line
  lake.py s3 ENDPOINT create BUCKET
  lake.py s3 ENDPOINT download BUCKET PREFIX DEST
  lake.py s3 ENDPOINT list BUCKET PREFIX

`download` copies every object under PREFIX to DEST (same relative names), so the
files can then be checked with the local readers (tests/python/check_outputs.py).
"""

import sys
from pathlib import Path

# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azure(endpoint, command, name, *rest):
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient(
        account_url=f"{endpoint}/{AZURITE_ACCOUNT}",
        credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
    )
    container = service.get_container_client(name)
    if command == "create":
        container.create_container()
        return
    prefix = rest[0].strip("/") + "/"
    names = [b.name for b in container.list_blobs(name_starts_with=prefix)]
    list_or_download(
        command, names, prefix, rest, lambda n, path: path.write_bytes(container.download_blob(n).readall())
    )


def list_or_download(command, names, prefix, rest, fetch):
    """`list` prints the names below `prefix`; `download` fetches each into rest[1]."""
    if command == "list":
        print("\n".join(n[len(prefix):] for n in names))
        return
    dest = Path(rest[1])
    for n in names:
        path = dest / n[len(prefix):]
        path.parent.mkdir(parents=True, exist_ok=True)
        fetch(n, path)


def s3(endpoint, command, bucket, *rest):
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    if command == "create":
        client.create_bucket(Bucket=bucket)
        return
    prefix = rest[0].strip("/") + "/"
    names = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        names.extend(o["Key"] for o in page.get("Contents", []))
    list_or_download(command, names, prefix, rest, lambda n, path: client.download_file(bucket, n, str(path)))


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] not in ("azure", "s3"):
        sys.exit(__doc__)
    {"azure": azure, "s3": s3}[sys.argv[1]](*sys.argv[2:])
