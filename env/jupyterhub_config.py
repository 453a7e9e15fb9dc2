# JupyterHub for the course (`make hub`): the instructor and the learners of a roster as
# users, nbgrader's exchange shared between them, formgrader for the instructor only, the
# assignment list (fetch, validate, submit, fetch feedback) for learners. Read by
# `python -m autograder.authoring.hub`, which sets the COURSE_HUB_* variables below.
#
# One machine, one OS user: every single-user server runs as the user who started the
# hub, each learner in a home of their own (hub-state/home/<name>); nbgrader tells learners
# apart by their hub name. On a real multi-user deployment the same settings carry over to
# Zero to JupyterHub on Kubernetes (KubeSpawner, one container per learner, the exchange
# on a shared volume, an OAuth/LTI authenticator): see the README.
import json
import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub

REPO = Path(os.environ["COURSE_REPO"])
STATE = Path(os.environ["COURSE_HUB_STATE"])
VENV_BIN = Path(os.environ["COURSE_HUB_PYTHON"]).parent
GRADING = Path(os.environ["COURSE_GRADING"])
INSTRUCTORS = set(json.loads(os.environ["COURSE_HUB_INSTRUCTORS"]))
LEARNERS = set(json.loads(os.environ["COURSE_HUB_LEARNERS"]))
PORT = int(os.environ.get("COURSE_HUB_PORT", "8000"))

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = PORT
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["COURSE_HUB_INTERNAL_PORT"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['COURSE_HUB_PROXY_PORT']}"
c.ConfigurableHTTPProxy.command = [os.environ["COURSE_HUB_PROXY"]]
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# Who may log in: the roster. (DummyAuthenticator: one shared password, for a demo or a
# test; a real course uses its institution's login, e.g. an LTI or OAuth authenticator.)
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["COURSE_HUB_PASSWORD"]
c.Authenticator.allowed_users = INSTRUCTORS | LEARNERS
c.Authenticator.admin_users = INSTRUCTORS

c.JupyterHub.spawner_class = "simple"
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.Spawner.environment = {
    "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    "COURSE_QUICK": os.environ.get("COURSE_QUICK", ""),
    "COURSE_GRADING": str(GRADING),
}


def learner_config(name: str) -> Path:
    """A learner's Jupyter configuration: the instructors' tools off, and nbgrader told who
    they are (their hub name) and where the course's exchange is."""
    folder = STATE / "config" / name
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    off = ["@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list",
           "@jupyter/nbgrader:menu", "@jupyterlab/apputils-extension:announcements"]
    (folder / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {k: True for k in off}}))
    (folder / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": {
        "nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False}}}))
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.Exchange.root = {str(GRADING / 'exchange')!r}\n"
        "c.CourseDirectory.course_id = 'pytorch-course'\n"
        f"c.CourseDirectory.student_id = {name!r}\n")
    return folder


def instructor_config() -> Path:
    """The instructor's terminals keep the course's environment first on PATH (a login
    shell would reset it), so `python -m autograder ...` and `nbgrader ...` just work."""
    folder = STATE / "config" / "_instructor"
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    (folder / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    (folder / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"terminado_settings": {"shell_command": ["/bin/bash", "--norc", "--noprofile"]}}}))
    # nbgrader reads its configuration from the Jupyter config path: the course's own file.
    (folder / "nbgrader_config.py").write_text(
        f"import runpy\nrunpy.run_path({str(REPO / 'nbgrader_config.py')!r}, init_globals={{'get_config': get_config}})\n")
    return folder


def pre_spawn_hook(spawner):
    name = spawner.user.name
    if name in INSTRUCTORS:
        # JupyterLab opens on the course folder (formgrader needs the course inside it);
        # the instructor's home, for shells and caches, stays in the hub's state.
        (STATE / "home" / name).mkdir(parents=True, exist_ok=True)
        spawner.notebook_dir = str(REPO)
        spawner.environment["JUPYTER_CONFIG_DIR"] = str(instructor_config())
    else:
        home = STATE / "home" / name
        home.mkdir(parents=True, exist_ok=True)
        spawner.notebook_dir = str(home)
        spawner.environment["JUPYTER_CONFIG_DIR"] = str(learner_config(name))


c.Spawner.pre_spawn_hook = pre_spawn_hook
c.Spawner.args = (["--allow-root"] if os.geteuid() == 0 else []) + (
    # the browser test drives JupyterLab through its API
    ["--LabApp.expose_app_in_browser=True"] if os.environ.get("COURSE_HUB_TEST") else [])
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "home" / "{username}")
