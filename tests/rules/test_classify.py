"""The rules/keyword classifier: clear cases per type, and the actions kept apart."""

from __future__ import annotations

import pytest

from rules.classify import RulesClassifier
from rules.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def clf() -> RulesClassifier:
    return RulesClassifier(load_taxonomy())


@pytest.mark.parametrize(
    ("summary", "description", "type_", "subtype"),
    [
        # User Admin
        ("New hire starting Monday", "Please create an account and mailbox for Ana Ruiz, starts 3/4", "User Admin",
         "User - Onboard"),
        ("Termination - Mark Blake", "Mark's last day was today, please disable his account", "User Admin",
         "User - Offboard"),
        ("Please reset my password", "I'm locked out after vacation", "User Admin", "User Rights - Password Reset"),
        ("Give Tom access to the HR folder", "", "User Admin", "User Rights - Add/Remove/Change"),
        ("Signed in with a temporary profile", "desktop icons are gone", "User Admin",
         "User Rights - Profile Troubleshooting"),
        # Hardware
        ("printer jammed again", "", "Hardware", "Printer - Troubleshooting"),
        ("Second monitor flickering", "", "Hardware", "Monitor(s) - Troubleshooting"),
        ("SonicWall port forward for the camera NVR", "", "Hardware", "Firewall - Configuration"),
        ("laptop will not boot", "black screen after the logo", "Hardware", "Workstation - Troubleshooting"),
        # Network
        ("VPN wont connect from home", "", "Network", "VPN - Troubleshooting"),
        ("Internet down", "no websites load", "Network", "Internet - Troubleshooting"),
        ("Backup failed on FS01", "Datto screenshot verification failed", "Network", "BDR - Troubleshooting"),
        # OS
        ("Add DNS A record for portal.contoso.com", "", "OS", "DNS - Add/Remove/Change"),
        ("S: drive missing", "my mapped drive disappeared", "OS", "Mapped Drive - Troubleshooting"),
        ("Print spooler crashing on print server", "", "OS", "Print Management - Troubleshooting"),
        ("macOS Sonoma update", "please update my MacBook to the latest macOS", "OS", "Mac OS - Install/Reinstall/Update"),
        # Software/SaaS
        ("outlook keeps asking for password", "", "Software/SaaS", "Outlook - Troubleshooting"),
        ("Install Chrome on reception PC", "", "Software/SaaS", "Chrome - Install/Reinstall/Update"),
        ("Excel crashes when opening large file", "", "Software/SaaS", "MS Office - Troubleshooting"),
        ("OneDrive not syncing", "red x on the cloud icon", "Software/SaaS", "One Drive - Troubleshooting"),
        ("eCW client slow", "eClinicalWorks takes ages to open a patient chart", "Software/SaaS",
         "eClinical Works - Troubleshooting"),
    ],
)
def test_clear_cases(clf: RulesClassifier, summary: str, description: str, type_: str, subtype: str) -> None:
    p = clf.predict(summary, description)
    assert (p.type, p.subtype) == (type_, subtype), p.reasons
    assert p.confidence > 0.3 and p.reasons


@pytest.mark.parametrize(
    ("summary", "subtype"),
    [
        ("add a new printer for accounting", "Printer - Add/Remote/Change"),
        ("printer default to double sided", "Printer - Configuration"),
        ("printer offline", "Printer - Troubleshooting"),
        ("reinstall Chrome", "Chrome - Install/Reinstall/Update"),
        ("set Chrome as default browser", "Chrome - Configuration"),
        ("Chrome crashing", "Chrome - Troubleshooting"),
        ("restore a deleted file from backup", "BDR - File Restore"),
        ("restore the whole Marketing share from backup", "BDR - Share Restore"),
        ("bare metal restore of the server from Datto", "BDR - Server Restore"),
        ("quarterly test restore", "BDR - Test Restore"),
        ("add a new folder to the Datto backup schedule", "BDR - Configuration"),
    ],
)
def test_actions_are_kept_apart(clf: RulesClassifier, summary: str, subtype: str) -> None:
    assert clf.predict(summary).subtype == subtype, clf.predict(summary).reasons


def test_typo_tolerance(clf: RulesClassifier) -> None:
    assert clf.predict("printr not workin").subtype == "Printer - Troubleshooting"
    assert clf.predict("outlok crashes").subtype == "Outlook - Troubleshooting"


def test_nothing_to_go_on(clf: RulesClassifier) -> None:
    p = clf.predict("hi", "thanks")
    assert p.type is None and p.subtype is None and p.confidence == 0


def test_a_lone_weak_word_is_not_confident(clf: RulesClassifier) -> None:
    assert clf.predict("the device", "").confidence < 0.5


def test_signatures_and_boilerplate_do_not_count(clf: RulesClassifier) -> None:
    p = clf.predict("help!!", "my computer is making a loud clicking noise. Sent from my iPhone")
    assert p.subtype == "Workstation - Troubleshooting"
    p = clf.predict("Not working", "The copier shows error SC542.\nBob Smith\nOperations Manager\nCell: 555-222-3333")
    assert p.type == "Hardware" and p.subtype == "Printer - Troubleshooting"


def test_prior_from_outside_evidence(clf: RulesClassifier) -> None:
    assert clf.predict("it broke again").subtype is None
    p = clf.predict("it broke again", prior={"Printer": 2.0})
    assert p.subtype == "Printer - Troubleshooting" and "best KB article" in p.reasons[0]
