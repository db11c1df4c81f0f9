"""MIME parsing: the fixture mails, malformed input, and generated messages (hypothesis)."""

from __future__ import annotations

import string
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailstack.mail import parse_mail

from tests.services.conftest import MAIL_FIXTURES
from tests.services.mail_factory import large_mail


def fixture(name: str) -> bytes:
    return (MAIL_FIXTURES / name).read_bytes()


def test_plain_mail_headers_body_and_envelope():
    mail = parse_mail(fixture("plain.eml"))
    assert mail.subject == "Invoice 2024-0042 is overdue"
    assert mail.message_id == "<20240603081500.4711@sender.example>"
    assert mail.from_address == "alice@sender.example"
    assert [a.address for a in mail.to] == ["support@mail.acme.test"]
    assert mail.to[0].display_name == "Support"
    assert mail.sent_at is not None and mail.sent_at.isoformat() == "2024-06-03T10:15:00+02:00"
    assert mail.text_body is not None and mail.text_body.startswith("Hello,\n\nthe invoice 2024-0042")
    assert mail.html_body is None
    assert mail.attachments == ()
    assert mail.envelope_from == "alice@sender.example"
    assert mail.envelope_to == ("support@mail.acme.test",)
    assert ("X-SES-Spam-Verdict", "PASS") in mail.headers
    assert mail.defects == ()


def test_multipart_alternative_quoted_printable_and_encoded_subject():
    mail = parse_mail(fixture("alternative.eml"))
    assert mail.subject == "Summer sale \u2013 30% off"
    assert mail.text_body is not None and "Café mugs, crème brûlée" in mail.text_body
    assert mail.html_body is not None and "<h1>Summer sale \u2013 30% off</h1>" in mail.html_body
    assert "</body></html>" in mail.html_body  # soft line break joined
    assert mail.attachments == ()


def test_attachments_keep_names_types_and_bytes():
    mail = parse_mail(fixture("attachments.eml"))
    assert [(a.content_type, a.filename) for a in mail.attachments] == [
        ("application/pdf", "invoice-88231.pdf"),
        ("text/csv", "Verbrauch Müller Juni.csv"),
        ("application/octet-stream", "../../../etc/passwd"),
    ]
    assert mail.attachments[0].content.startswith(b"%PDF-1.4")
    assert mail.attachments[1].content.decode("utf-8").startswith("id;name;amount\n1;Müller")
    assert all(not a.inline for a in mail.attachments)
    assert mail.text_body == "Please find your invoice and the usage report attached.\n"


def test_inline_image_with_content_id_in_nested_multipart():
    mail = parse_mail(fixture("inline-image.eml"))
    assert mail.text_body is not None and mail.text_body.startswith("The new logo")
    assert mail.html_body is not None and 'src="cid:logo-12@studio.example"' in mail.html_body
    (image,) = mail.attachments
    assert image.content_type == "image/png"
    assert image.content_id == "logo-12@studio.example"
    assert image.inline is True
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_iso_8859_1_body_and_headers():
    mail = parse_mail(fixture("latin1.eml"))
    assert mail.subject == "Réservation confirmée"
    assert mail.from_header == "François Lefèvre <francois@exemple.example>"
    assert mail.text_body is not None and "À bientôt à Besançon !" in mail.text_body


def test_shift_jis_body_and_subject():
    mail = parse_mail(fixture("shift-jis.eml"))
    assert mail.subject == "打ち合わせの件"
    assert mail.from_header == "山田 太郎 <yamada@kaisha.example>"
    assert mail.text_body is not None and "来週の打ち合わせの件" in mail.text_body


def test_rfc2047_encoded_words_in_several_charsets():
    mail = parse_mail(fixture("encoded-subject.eml"))
    assert mail.subject == "Räkning för juni ✅ klar"
    assert mail.from_header == "Björn Gärde <bjorn@nordic.example>"
    assert mail.to[0].display_name == "Renée Müller"


def test_many_recipients_and_groups():
    mail = parse_mail(fixture("many-recipients.eml"))
    assert len(mail.to) == 40
    assert mail.to[0].address == "member01@mail.acme.test"
    assert mail.to[0].display_name == "Team Member 01"
    assert len(mail.cc) == 20
    assert [a.address for a in mail.bcc] == ["chair@board.example", "treasurer@board.example"]


def test_attached_message_is_kept_as_one_attachment():
    mail = parse_mail(fixture("forwarded.eml"))
    assert mail.text_body == "See the original message below.\n"
    (attached,) = mail.attachments
    assert attached.content_type == "message/rfc822"
    assert attached.filename == "original.eml"
    inner = parse_mail(attached.content)
    assert inner.subject == "Invoice 2024-0042 is overdue"
    assert inner.text_body is not None and "still open" in inner.text_body


def test_malformed_mail_is_parsed_with_defects():
    mail = parse_mail(fixture("malformed.eml"))
    assert mail.subject == "not valid base64 and foo"
    assert mail.sent_at is None
    assert mail.text_body == "Hello world"
    assert mail.html_body is not None and "\x00" not in mail.html_body
    assert [a.filename for a in mail.attachments] == ["data.bin"]
    assert any("CloseBoundaryNotFound" in d for d in mail.defects)
    assert any("unknown charset 'x-made-up-charset'" in d for d in mail.defects)
    assert any("InvalidBase64" in d for d in mail.defects)
    assert any("Date" in d for d in mail.defects)
    raw_header = dict(mail.headers)["X-Raw-8bit"]
    raw_header.encode("utf-8")  # storable
    assert raw_header.startswith("café")


def test_large_mail():
    raw = large_mail(1_500_000)
    mail = parse_mail(raw)
    assert mail.size == len(raw) > 1_000_000
    (attachment,) = mail.attachments
    assert attachment.filename == "export-q2.zip"
    assert attachment.size > 1_000_000


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02",
        b"Subject: no body",
        b"Content-Type: multipart/mixed\n\nno boundary at all",
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\n--x\n--x--",
        b'Content-Type: text/plain; charset="\xff"\nContent-Transfer-Encoding: base64\n\n@@@',
        b'To: ,,,<<<>>>@@@, "\n\n',
        b"Content-Type: message/rfc822\n\n",
        b"\r\n\r\n\r\n",
        (b"Content-Type: multipart/mixed; boundary=a\n\n--a\n" * 200) + b"x",
    ],
)
def test_parser_never_raises_on_garbage(raw: bytes):
    mail = parse_mail(raw)
    assert mail.size == len(raw)
    for text in (mail.text_body, mail.html_body, mail.subject):
        if text is not None:
            text.encode("utf-8")
            assert "\x00" not in text


# --- generated messages ---------------------------------------------------------------------------

_body_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t"),
    max_size=400,
)
_file_names = st.text(
    alphabet=string.ascii_letters + string.digits + "äöüé日本 ._-/\\", min_size=1, max_size=40
).filter(lambda name: name.strip() == name and name.strip(" .") != "")
_attachment_types = st.sampled_from(
    [("application", "octet-stream"), ("application", "pdf"), ("image", "png"), ("application", "zip")]
)
_attachments = st.lists(st.tuples(st.binary(max_size=3000), _attachment_types, _file_names), max_size=4)


def _expected_text(text: str) -> str:
    """What set_content() stores: lines split (on bytes line breaks) and each ended with a newline."""
    lines = text.encode("utf-8").splitlines()
    return b"".join(line + b"\n" for line in lines).decode("utf-8") if lines else "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=_body_text,
    html=st.none() | _body_text.map(lambda body: f"<p>{body}</p>"),
    attachments=_attachments,
    subject=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=120),
    crlf=st.booleans(),
)
def test_generated_messages_round_trip(text, html, attachments, subject, crlf):
    message = EmailMessage()
    message["From"] = "Sender <sender@example.org>"
    message["To"] = "inbox@mail.acme.test"
    message["Subject"] = subject
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for content, (maintype, subtype), filename in attachments:
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    raw = message.as_bytes(policy=SMTP) if crlf else message.as_bytes()

    mail = parse_mail(raw)

    normalise = (lambda s: s.replace("\r\n", "\n")) if crlf else (lambda s: s)
    assert mail.text_body is not None and normalise(mail.text_body) == _expected_text(text)
    if html is not None:
        assert mail.html_body is not None and normalise(mail.html_body) == _expected_text(html)
    assert len(mail.attachments) == len(attachments)
    for parsed, (content, (maintype, subtype), filename) in zip(mail.attachments, attachments, strict=True):
        assert parsed.content == content
        assert parsed.content_type == f"{maintype}/{subtype}"
        assert parsed.filename == filename
    assert mail.subject == " ".join(subject.split()) or mail.subject == subject


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=2000))
def test_parser_never_raises_on_random_bytes(raw):
    mail = parse_mail(raw)
    assert mail.size == len(raw)


@settings(max_examples=150, deadline=None)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(["From", "To", "Cc", "Subject", "Date", "Message-ID", "Content-Type", "X-Test"]),
            st.text(max_size=80),
        ),
        max_size=8,
    ),
    body=st.binary(max_size=500),
)
def test_parser_never_raises_on_random_headers(headers, body):
    raw = b"".join(f"{name}: {value}".encode("utf-8", "surrogatepass") + b"\n" for name, value in headers)
    mail = parse_mail(raw + b"\n" + body)
    for name, value in mail.headers:
        (name + value).encode("utf-8")
