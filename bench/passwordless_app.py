"""The doorkeep server `bench_passwordless.py` loads into uvicorn: `doorkeep serve`'s
application with passwordless sign-in by email on, messages through the console sender
(the default), and every user-input code set to BENCH_CODE through the recipe's
`get_custom_user_input_code` hook, so that the load generator can type the codes it
never receives. Settings come from the environment (DOORKEEP_DATABASE_URL, ...)."""

from __future__ import annotations

from doorkeep import Doorkeep, Settings
from doorkeep.recipes.passwordless import PasswordlessConfig
from doorkeep.serve.server import create_app

BENCH_CODE = "246810"


async def bench_code(tenant_id: str, user_context: dict[str, object]) -> str:
    return BENCH_CODE


dk = Doorkeep(
    Settings.from_env(),
    passwordless=PasswordlessConfig(get_custom_user_input_code=bench_code),
)
app = create_app(dk, core_api=False)
