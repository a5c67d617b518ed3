"""Issue 13's invitations and members in a real browser, with the e-mails
through a real SMTP server:

- Philip makes Mary administrator, then invites a new person; Mary hears of
  the invitation; the new person opens the e-mailed link, chooses a name and
  a password, signs in and is a user of Smith ltd;
- Philip invites Emma, who has a login (in her household): she opens the
  link, signs in through the login page, comes back, accepts, and her
  console shows Smith ltd;
- Mary holds tokens for an API that introspects; Philip removes her in the
  console, and her next introspection says ``active: false`` (her refresh
  token is refused too).
"""

import re

from playwright.sync_api import expect

from idp.outbox.delivery import deliver_due
from tests.provider.agents import UserAgent
from tests.support.people import EMMA, MARY, PHILIP

API = "http://127.0.0.1:9/usage-api"
JANE = "jane.doe@smith-ltd.example"
JANE_PASSWORD = "a kettle of seven blue herons"
LINK = re.compile(r"http://\S+/console/invitation\?token=[A-Za-z0-9_-]+")


def sign_in(page, person):
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()


def console_of(page, provider, person):
    page.goto(f"{provider.url}/console")
    sign_in(page, person)
    expect(page.get_by_role("heading", name=person.name)).to_be_visible()


def another_browser(chromium):
    page = chromium.new_context(viewport={"width": 1000, "height": 800},
                                locale="en-GB").new_page()
    page.set_default_timeout(15_000)
    return page


def send_mail(provider, mailbox, expected: int) -> dict[str, list]:
    """Send the outbox as ``keyholder worker`` would; the messages received
    since the last call, by recipient address."""
    mailbox.clear()
    with provider.app.app_context():
        assert deliver_due(provider.app).sent == expected
    by_address: dict[str, list] = {}
    for message in mailbox.wait_for(expected):
        by_address.setdefault(message["To"].addresses[0].addr_spec, []).append(message)
    return by_address


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def invite(page, provider, email, mobile=""):
    page.goto(f"{provider.url}/console/members")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Own mobile (optional)").fill(mobile)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text(f"We sent an invitation to {email}.")
    expect(page.get_by_role("table", name="Invitations not accepted yet")).to_contain_text(email)


def test_a_new_person_is_invited_and_joins(page, chromium, provider, mailbox):
    console_of(page, provider, PHILIP)
    page.get_by_role("link", name="Members", exact=True).click()
    page.get_by_role("button", name=f"Make administrator {MARY.name}").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"{MARY.name} is now an administrator of customer number 123456789.")
    send_mail(provider, mailbox, 2)  # Mary's confirmation, Philip's notice

    invite(page, provider, JANE, "+32 470 99 99 99")
    mails = send_mail(provider, mailbox, 2)
    [invitation] = mails[JANE]
    assert invitation["Subject"] == "Philip Smith invites you to customer 123456789"
    assert invitation["To"].addresses[0].display_name == ""
    text = text_of(invitation)
    assert "with your own mobile 0470 99 99 99" in text  # written for people
    [notice] = mails[MARY.email]
    assert notice["Subject"] == f"Philip Smith invited {JANE} to customer 123456789"
    link = LINK.search(text).group(0)

    jane = another_browser(chromium)
    jane.goto(link)
    expect(jane.get_by_role("heading", name="Join Smith ltd")).to_be_visible()
    jane.get_by_label("Your name").fill("Jane Doe")
    jane.get_by_label("Choose a password").fill(JANE_PASSWORD)
    jane.get_by_label("The password again").fill(JANE_PASSWORD)
    jane.get_by_role("button", name="Join Smith ltd").click()
    expect(jane.get_by_role("heading", name="Welcome, Jane Doe")).to_be_visible()
    jane.get_by_role("link", name="Sign in").click()
    expect(jane.get_by_label("E-mail address")).to_have_value(JANE)
    jane.get_by_label("Password").fill(JANE_PASSWORD)
    jane.get_by_role("button", name="Sign in").click()
    expect(jane.get_by_role("heading", name="Jane Doe")).to_be_visible()
    expect(jane.locator("#customer-number")).to_have_text("123456789")
    expect(jane.locator("#role")).to_have_text("user")

    joined = send_mail(provider, mailbox, 2)
    assert sorted(joined) == sorted([PHILIP.email, MARY.email])
    assert joined[PHILIP.email][0]["Subject"] == "Jane Doe joined customer 123456789"
    # The link is spent: opening it again says so.
    jane.goto(link)
    expect(jane.get_by_role("alert")).to_contain_text("This link has been used already.")


def test_an_existing_person_signs_in_and_accepts(page, chromium, provider, mailbox):
    console_of(page, provider, PHILIP)
    invite(page, provider, EMMA.email)
    [invitation] = send_mail(provider, mailbox, 1)[EMMA.email]
    text = text_of(invitation)
    assert text.startswith(f"Dear {EMMA.name},")
    assert f"You already have a login with {EMMA.email}: sign in with it to accept." in text

    emma = another_browser(chromium)
    emma.goto(LINK.search(text).group(0))
    expect(emma.get_by_role("heading", name="Join Smith ltd")).to_be_visible()
    emma.get_by_role("link", name="Sign in to accept").click()
    expect(emma.get_by_label("E-mail address")).to_have_value(EMMA.email)
    emma.get_by_label("Password").fill(EMMA.password)
    emma.get_by_role("button", name="Sign in").click()
    expect(emma.get_by_text(f"You are signed in as {EMMA.email}.")).to_be_visible()
    emma.get_by_role("button", name="Accept the invitation").click()
    expect(emma.get_by_role("status")).to_contain_text(
        "Welcome to Smith ltd: you are now a user of customer number 123456789.")
    expect(emma.locator("#customer-number")).to_have_text("123456789")
    expect(emma.get_by_label("Show another customer number")).to_contain_text("987654321")
    [told] = send_mail(provider, mailbox, 1)[PHILIP.email]
    assert told["Subject"] == f"{EMMA.name} joined customer 123456789"


def test_a_removed_members_next_introspection_says_inactive(page, provider, mailbox):
    api = provider.register("Usage API", "service", resource_uri=API)
    cloud = provider.register("Cloud", "web")
    agent = UserAgent(provider.url)
    authorization = cloud.authorization(scope="openid customer", resource=API)
    code = agent.code_for(cloud, authorization, email=MARY.email, password=MARY.password)
    tokens = cloud.redeem(code, authorization.verifier).json()
    assert api.introspect(tokens["access_token"]).json()["active"] is True

    console_of(page, provider, PHILIP)
    page.goto(f"{provider.url}/console/members")
    page.get_by_role("link", name=re.compile(rf"^Remove\s*{MARY.name}")).click()
    expect(page.get_by_role("heading", name=f"Remove {MARY.name}?")).to_be_visible()
    page.get_by_role("button", name="Remove", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(
        f"{MARY.name} is no longer a member of customer number 123456789")
    expect(page.get_by_role("table", name=re.compile("Everyone with a login"))).not_to_contain_text(
        MARY.email)

    assert api.introspect(tokens["access_token"]).json() == {"active": False}
    refused = cloud.refresh(tokens["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    [removed] = send_mail(provider, mailbox, 1)[MARY.email]
    assert removed["Subject"] == "You are no longer a member of customer 123456789"
    assert "Philip Smith, an administrator of customer number 123456789 (Smith ltd), " \
           "removed you" in text_of(removed)
