import os

import pytest

pytestmark = pytest.mark.django_db

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


@pytest.fixture
def post_with_odd_files(post_with_files):
    """Things in a post's folder with image names that are not plain image files."""
    folder = post_with_files.folder("pictures")
    (folder / "source.png").symlink_to(folder / "index.md")
    (folder / "alias.png").symlink_to(folder / "chart.png")
    (folder / "escape.png").symlink_to(post_with_files.root / "outside.png")
    (folder / "hard.png").hardlink_to(folder / "index.md")
    (folder / "photos.png").mkdir()
    os.mkfifo(folder / "pipe.png")
    return post_with_files


@pytest.mark.parametrize(
    "filename",
    [
        "source.png",  # a symlink to the post's own Markdown
        "alias.png",  # a symlink to an image beside it
        "escape.png",  # a symlink out of the folder
        "hard.png",  # the Markdown file under a second name
        "photos.png",  # a directory
        "pipe.png",  # a FIFO: must not hang the worker either
    ],
)
def test_anything_but_a_regular_image_file_is_not_found(client, post_with_odd_files, filename):
    assert client.get(f"/blog/pictures/{filename}").status_code == 404


def test_a_post_folder_that_is_itself_a_symlink_still_serves_its_images(client, posts_dir):
    elsewhere = posts_dir.root / "drafts-folder"
    elsewhere.mkdir()
    (elsewhere / "index.md").write_text("---\ntitle: Linked\ndate: 2025-01-01\n---\n\nWords.\n")
    (elsewhere / "chart.png").write_bytes(PNG)
    posts_dir.folder("linked").symlink_to(elsewhere)
    response = client.get("/blog/linked/chart.png")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
