"""`hdcn`: the operator's command line (local stack, tokens; deploy and health come with ops)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from backend.local.template import REPO_ROOT


def cmd_token(args: argparse.Namespace) -> int:
    """Print an ID token for a user of the local pool (or of a real pool given its client id)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    endpoint = None
    region, client_id = args.region, args.client_id
    password = args.password
    totp_secret = ""
    if client_id is None:
        from backend.local.up import read_state

        state = read_state(args.state_dir)
        endpoint, region = state["aws_endpoint"], state["region"]
        client_id = state["outputs"]["UserPoolClientId"]
        password = password or state["demo_password"]
        totp_secret = state.get("sign_in_users", {}).get(args.user, {}).get("totp_secret", "")
    if not password:
        import getpass

        password = getpass.getpass(f"password for {args.user}: ")
    # InitiateAuth is an unauthenticated call: no AWS credentials needed or sent.
    idp = boto3.client(
        "cognito-idp", region_name=region, endpoint_url=endpoint, config=Config(signature_version=UNSIGNED)
    )
    result = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": args.user, "PASSWORD": password},
    )
    challenge = result.get("ChallengeName")
    if challenge == "SOFTWARE_TOKEN_MFA":
        code = args.code
        if not code and totp_secret:
            from backend.local.totp import totp_code

            code = totp_code(totp_secret)  # the local TOTP user's key is in the state file
        if not code:
            code = input(f"six-digit code for {args.user}: ").strip()
        result = idp.respond_to_auth_challenge(
            ClientId=client_id,
            ChallengeName=challenge,
            Session=result["Session"],
            ChallengeResponses={"USERNAME": args.user, "SOFTWARE_TOKEN_MFA_CODE": code},
        )
        challenge = result.get("ChallengeName")
    if challenge:
        print(f"{args.user} must first finish {challenge} (sign in at the console)", file=sys.stderr)
        return 1
    print(result["AuthenticationResult"]["IdToken"])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hdcn", description="H-DCN webshop-backend operations")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="the local stack").add_subparsers(
        dest="local_command", required=True
    )
    up = local.add_parser("up", help="start the local stack (moto, gateway, console)")
    from backend.local.up import add_arguments, run_from_args

    add_arguments(up)
    up.set_defaults(func=run_from_args)

    token = sub.add_parser("token", help="print an ID token (for curl's Authorization header)")
    token.add_argument("--user", required=True)
    token.add_argument("--password", help="defaults to the local demo password")
    token.add_argument("--code", help="the authenticator's six-digit code (computed for the local totp user)")
    token.add_argument("--client-id", help="app client of a real user pool (default: the local stack's)")
    token.add_argument("--region", default="eu-west-1")
    token.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".hdcn")
    token.set_defaults(func=cmd_token)
    from console import image_cmd

    image_cmd.register(sub)
    from console import ops_cmd

    ops_cmd.register(sub)  # hdcn health | status | deploy
    from console import members_cmd

    members_cmd.register(sub)  # hdcn members check [--apply]
    from console import hosting_cmd

    hosting_cmd.register(sub)  # hdcn console deploy [--dry-run]
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except Exception as err:  # known causes become one line; the rest re-raise
        message = user_error(err, args)
        if message is None:
            raise
        print(f"hdcn {args.command}: {message}", file=sys.stderr)
        return 2
    return code


def user_error(err: Exception, args: argparse.Namespace) -> str | None:
    """One line saying what went wrong and what to do, for errors an operator causes (else None)."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    from backend.local.up import NoLocalStack

    state_dir = getattr(args, "state_dir", None)
    if isinstance(err, NoLocalStack):
        return str(err)
    if isinstance(err, NoCredentialsError | NoRegionError):
        local = f" (none is running with state directory {state_dir})" if state_dir else ""
        return (
            f"no local stack{local} and no AWS credentials for the real one: start the local stack with"
            " `hdcn local up` (or pass its --state-dir), or configure AWS credentials"
        )
    if isinstance(err, EndpointConnectionError):
        return (
            f"cannot reach {err.kwargs.get('endpoint_url')}: the local stack has stopped"
            " (start it with `hdcn local up`) or the network is down"
        )
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return f"{err.operation_name} failed: {error.get('Code', 'error')}: {error.get('Message', '')}"
    return None


if __name__ == "__main__":
    sys.exit(main())
