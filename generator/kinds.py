"""The field kinds: one table that every stage looks a kind's facts up in.

In: nothing (plain data). Out: ``KINDS``, kind name -> ``Kind``: what its value
is (text, a true/false, one option), whether a person types free text in it
(scanned for patient identifiers), whether it spans lines, which kind of
AcroForm widget holds it in a PDF, the text an empty Word control shows, and
its FHIR Questionnaire item type. The content checks, the manifest check, the
typed values, both writers, readers and fillers, the identifier scan and the
exports take these facts from here; stage-specific handlers (``values.COERCE``,
``docx.write.CONTROL_WRITERS``) are tables keyed by the same names, and a test
holds them to exactly these kinds.

It sits at the floor (beside ``errors`` and ``dates``) because the content
checks, below the model, need the kind names too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    value: str  # "text" (a str; a date is ISO text), "flag" (True/False) or "option" (an option's value)
    free_text: bool  # a person types anything here: scanned for likely patient identifiers
    multiline: bool
    widget: str  # the PDF widget: "text" or "button" (a checkbox or a radio group)
    placeholder: str  # what an empty Word control shows ("" for a checkbox, which shows its box)
    fhir_type: str  # the FHIR R4 Questionnaire item type


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("text", "text", True, False, "text", "Enter text", "string"),
    Kind("longtext", "text", True, True, "text", "Enter text", "text"),
    Kind("date", "text", False, False, "text", "Enter a date", "date"),
    Kind("checkbox", "flag", False, False, "button", "", "boolean"),
    Kind("yesno", "flag", False, False, "button", "Choose an item", "boolean"),
    Kind("choice", "option", False, False, "button", "Choose an item", "choice"),
    Kind("signature", "text", True, False, "text", "Type your name", "string"),
)}

#: The kind names, in the order content documentation lists them.
FIELD_KINDS = tuple(KINDS)
#: Kinds whose answers are free text (checked for likely patient identifiers).
FREE_TEXT_KINDS = frozenset(k.name for k in KINDS.values() if k.free_text)
#: Kinds a PDF holds in a button widget (checkbox or radio group).
BUTTON_KINDS = frozenset(k.name for k in KINDS.values() if k.widget == "button")
