import pytest

from blog.tests.conftest import BOTH_DATABASES

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.fixture
def post_with_files(posts_dir):
    posts_dir.write("pictures", body="![chart](chart.png)")
    posts_dir.write("hidden-draft", draft=True)
    folder = posts_dir.folder("pictures")
    (folder / "chart.png").write_bytes(PNG)
    (folder / "diagram.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    (folder / "secret.txt").write_text("not for you")
    (posts_dir.folder("hidden-draft") / "draft.png").write_bytes(PNG)
    (posts_dir.root / "outside.png").write_bytes(PNG)
    return posts_dir


def test_an_image_beside_the_post_is_served(client, post_with_files):
    response = client.get("/blog/pictures/chart.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG


def test_the_post_html_points_at_its_images(client, post_with_files):
    assert 'src="/blog/pictures/chart.png"' in client.get("/blog/pictures/").content.decode()


def test_svg_images_cannot_run_script(client, post_with_files):
    response = client.get("/blog/pictures/diagram.svg")
    assert response["Content-Type"] == "image/svg+xml"
    assert "default-src 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/blog/pictures/secret.txt",
        "/blog/pictures/index.md",
        "/blog/pictures/missing.png",
        "/blog/pictures/..%2Foutside.png",
        "/blog/pictures/%2e%2e%2f%2e%2e%2foutside.png",
        "/blog/pictures/..%5Coutside.png",
        "/blog/..%2Fpictures/chart.png",
        "/blog/Pictures/chart.png",
        "/blog/hidden-draft/draft.png",
    ],
)
def test_nothing_else_can_be_read(client, post_with_files, path):
    assert client.get(path).status_code == 404
