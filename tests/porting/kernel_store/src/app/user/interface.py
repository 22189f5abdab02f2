from loom.rest.autocrud import build_auto_routes
from loom.rest.model import RestInterface, RestRoute

from app.user.model import User
from app.user.use_cases import CreateUserUseCase, UpdateUserUseCase


class UserRestInterface(RestInterface[User]):
    prefix = "/users"
    tags = ("Users",)
    routes = (
        RestRoute(use_case=CreateUserUseCase, method="POST", path="/", status_code=201),
        RestRoute(use_case=UpdateUserUseCase, method="PATCH", path="/{user_id}"),
        *build_auto_routes(User, ("get", "list", "delete")),
    )
