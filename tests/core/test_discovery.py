"""Discovery modes: modules, manifest, interfaces, apps, and their errors (§14)."""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path

import pytest

from loom_django.core.discovery import (
    ComponentKinds,
    DiscoveryConfig,
    DiscoveryWarning,
    default_kinds,
    discover,
    discover_apps,
    discover_manifest,
    discover_modules,
)

# Small stand-ins for the loom base classes keep discovery testable on its own.


class BaseModel:
    pass


class UseCase:
    def __class_getitem__(cls, params):
        from typing import _GenericAlias  # type: ignore[attr-defined]

        return _GenericAlias(cls, params if isinstance(params, tuple) else (params,))

    def execute(self):
        raise NotImplementedError

    execute.__loom_abstract__ = True  # type: ignore[attr-defined]


class Job:
    def execute(self):
        raise NotImplementedError

    execute.__loom_abstract__ = True  # type: ignore[attr-defined]


class RestInterface:
    routes: tuple = ()


class RestRoute:
    def __init__(self, use_case):
        self.use_case = use_case


KINDS = ComponentKinds(model=BaseModel, use_case=UseCase, job=Job, interface=RestInterface)

_counter = itertools.count()


@pytest.fixture
def package(tmp_path, monkeypatch):
    """Write modules of a fresh package importable for this test; returns a writer."""
    name = f"discpkg{next(_counter)}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(module: str, source: str) -> str:
        path = root / Path(*module.split("."))
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if not init.exists():
                init.write_text("")
        path.with_suffix(".py").write_text(
            "from tests.core.test_discovery import *\n" + textwrap.dedent(source)
        )
        return f"{name}.{module}"

    write.package = name  # type: ignore[attr-defined]
    yield write
    for mod in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[mod]


def names(classes) -> list[str]:
    return [c.__name__ for c in classes]


# -- modules mode ------------------------------------------------------------------------


def test_modules_mode_collects_only_classes_defined_in_listed_modules(package):
    models = package(
        "models",
        """
        class User(BaseModel):
            __tablename__ = "users"
        """,
    )
    ucs = package(
        "use_cases",
        f"""
        from {package.package}.models import User

        class CreateUser(UseCase):
            def execute(self): ...
        """,
    )
    result = discover_modules([ucs], kinds=KINDS)
    assert names(result.use_cases) == ["CreateUser"]
    assert result.models == ()
    assert discover_modules([models, ucs], kinds=KINDS).models[0].__name__ == "User"


def test_modules_mode_adds_use_cases_referenced_by_interface_routes(package):
    auto = package(
        "auto",
        """
        class ProductCreate(UseCase):
            def execute(self): ...
        """,
    )
    iface = package(
        "interface",
        f"""
        from {package.package}.auto import ProductCreate

        class Local(UseCase):
            def execute(self): ...

        class ProductInterface(RestInterface):
            routes = (RestRoute(ProductCreate), RestRoute(Local))
        """,
    )
    result = discover_modules([iface], kinds=KINDS)
    assert names(result.interfaces) == ["ProductInterface"]
    assert names(result.use_cases) == ["Local", "ProductCreate"]
    assert result.modules == (iface,)
    assert auto not in result.modules


def test_modules_mode_classifies_models_jobs_and_callbacks(package):
    mod = package(
        "all",
        """
        class Product(BaseModel):
            __tablename__ = "products"

        class ProductView(BaseModel):
            pass

        class SendEmail(Job):
            def execute(self): ...

        class OnDone:
            def on_success(self, job_id, result, **context): ...
            def on_failure(self, job_id, exc_type, exc_msg, **context): ...

        class Helper:
            pass
        """,
    )
    result = discover_modules([mod], kinds=KINDS)
    assert names(result.models) == ["Product"]
    assert names(result.jobs) == ["SendEmail"]
    assert names(result.callbacks) == ["OnDone"]


def test_modules_mode_skips_use_cases_that_do_not_override_execute(package):
    mod = package(
        "bases",
        """
        class StoreUseCase(UseCase):
            pass

        class Concrete(StoreUseCase):
            def execute(self): ...
        """,
    )
    assert names(discover_modules([mod], kinds=KINDS).use_cases) == ["Concrete"]


def test_modules_mode_reads_stream_flows(package):
    mod = package("streams", "FLOW = object()\nSTREAM_FLOWS = [FLOW]\n")
    result = discover_modules([mod], kinds=KINDS)
    assert result.stream_flows == (sys.modules[mod].FLOW,)


def test_modules_mode_without_modules_raises():
    with pytest.raises(ValueError, match="modules discovery requires at least one module path."):
        discover_modules([], kinds=KINDS)


def test_modules_mode_propagates_import_errors(package):
    mod = package("broken", "import does_not_exist_anywhere\n")
    with pytest.raises(ModuleNotFoundError):
        discover_modules([mod], kinds=KINDS)


# -- manifest mode -----------------------------------------------------------------------


def test_manifest_mode_reads_the_component_lists(package):
    mod = package(
        "manifest",
        """
        class Product(BaseModel):
            __tablename__ = "products"

        class Listed(UseCase):
            def execute(self): ...

        class Routed(UseCase):
            def execute(self): ...

        class Unlisted(UseCase):
            def execute(self): ...

        class Api(RestInterface):
            routes = (RestRoute(Routed),)

        class SendEmail(Job):
            def execute(self): ...

        MODELS = [Product]
        USE_CASES = [Listed]
        INTERFACES = [Api]
        JOBS = [SendEmail]
        """,
    )
    result = discover_manifest(mod, kinds=KINDS)
    assert names(result.models) == ["Product"]
    assert names(result.use_cases) == ["Listed", "Routed"]
    assert names(result.interfaces) == ["Api"]
    assert names(result.jobs) == ["SendEmail"]


def test_empty_manifest_raises_exposes_no_components(package):
    mod = package("empty", "MODELS = []\n")
    with pytest.raises(ValueError, match=f"Manifest module '{mod}' exposes no components"):
        discover_manifest(mod, kinds=KINDS)


def test_manifest_with_only_stream_flows_is_accepted(package):
    mod = package("streams_only", "STREAM_FLOWS = [object()]\n")
    assert len(discover_manifest(mod, kinds=KINDS).stream_flows) == 1


def test_manifest_attribute_is_rejected_pointing_to_list_attributes(package):
    mod = package("legacy", "MANIFEST = {'jobs': []}\nJOBS = []\n")
    with pytest.raises(ValueError, match="MODELS, USE_CASES"):
        discover_manifest(mod, kinds=KINDS)


def test_manifest_mode_without_module_raises():
    with pytest.raises(ValueError, match="manifest discovery requires a module path."):
        discover(DiscoveryConfig(mode="manifest"), kinds=KINDS)


# -- interfaces mode ---------------------------------------------------------------------


def test_interfaces_mode_infers_models_from_use_case_generics(package):
    mod = package(
        "api",
        """
        class Product(BaseModel):
            __tablename__ = "products"

        class GetProduct(UseCase[Product, int]):
            def execute(self): ...

        class Api(RestInterface):
            routes = (RestRoute(GetProduct),)
        """,
    )
    with pytest.warns(DiscoveryWarning, match="manifest"):
        result = discover({"mode": "interfaces", "interfaces": {"modules": [mod]}}, kinds=KINDS)
    assert names(result.interfaces) == ["Api"]
    assert names(result.use_cases) == ["GetProduct"]
    assert names(result.models) == ["Product"]


def test_interfaces_mode_warning_can_be_silenced(package, recwarn):
    mod = package("api2", "class Api(RestInterface):\n    routes = ()\n")
    config = {"mode": "interfaces", "interfaces": {"modules": [mod], "warn_recommended": False}}
    discover(config, kinds=KINDS)
    assert not [w for w in recwarn if issubclass(w.category, DiscoveryWarning)]


def test_interfaces_mode_without_interfaces_raises(package):
    mod = package("nothing", "X = 1\n")
    config = {"mode": "interfaces", "interfaces": {"modules": [mod], "warn_recommended": False}}
    with pytest.raises(ValueError, match="No RestInterface subclasses discovered"):
        discover(config, kinds=KINDS)


# -- apps mode ---------------------------------------------------------------------------


def test_apps_mode_imports_existing_submodules_of_each_app(package):
    package(
        "shop.models",
        """
        class Order(BaseModel):
            __tablename__ = "orders"
        """,
    )
    package(
        "shop.use_cases",
        """
        class PlaceOrder(UseCase):
            def execute(self): ...
        """,
    )
    app = f"{package.package}.shop"
    result = discover({"mode": "apps"}, app_modules=[app], kinds=KINDS)
    assert names(result.models) == ["Order"]
    assert names(result.use_cases) == ["PlaceOrder"]
    assert result.modules == (f"{app}.models", f"{app}.use_cases")


def test_apps_mode_accepts_a_callable_and_custom_submodules(package):
    package("blog.handlers", "class Publish(UseCase):\n    def execute(self): ...\n")
    app = f"{package.package}.blog"
    result = discover_apps(lambda: [app], submodules=["handlers"], kinds=KINDS)
    assert names(result.use_cases) == ["Publish"]


def test_apps_mode_propagates_errors_inside_an_existing_submodule(package):
    package("bad.models", "import does_not_exist_anywhere\n")
    with pytest.raises(ModuleNotFoundError, match="does_not_exist_anywhere"):
        discover_apps([f"{package.package}.bad"], kinds=KINDS)


def test_apps_mode_skips_plain_module_apps(package):
    package("single", "X = 1\n")
    assert discover_apps([f"{package.package}.single"], kinds=KINDS).is_empty()


# -- mode selection ----------------------------------------------------------------------


def test_unknown_mode_raises_unsupported_discovery_mode():
    with pytest.raises(ValueError, match="Unsupported discovery mode: 'magic'"):
        discover({"mode": "magic"}, kinds=KINDS)


def test_default_kinds_are_the_real_loom_base_classes():
    from loom_django.core.job.job import Job as RealJob
    from loom_django.core.model import BaseModel as RealBaseModel
    from loom_django.core.use_case.use_case import UseCase as RealUseCase

    kinds = default_kinds()
    assert (kinds.model, kinds.use_case, kinds.job) == (RealBaseModel, RealUseCase, RealJob)


def test_modules_mode_with_default_kinds_collects_real_use_cases(package):
    mod = package(
        "real",
        """
        from loom_django.core.use_case.use_case import UseCase as LoomUseCase

        class Echo(LoomUseCase[object, str]):
            def execute(self, value: str) -> str:
                return value

        class Abstract(LoomUseCase[object, str]):
            pass
        """,
    )
    assert names(discover_modules([mod]).use_cases) == ["Echo"]
