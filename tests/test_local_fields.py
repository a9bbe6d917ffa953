"""What a local verdict's fields may hold (panel.models.local.fields): each case was seen in the
embedded model's answers."""

from panel.models.local import fields

INSTRUCTIONS = 'Answer with one JSON object...\n- "headline": one line\n- "strengths", "risks", "competitors": lists'
BLOCK = "slug: smollm3\nname: SmolLM3\nvendor: Hugging Face\ndescription: It beats Qwen2.5-3B and Llama 3.2 3B."
RATIONALE = "SmolLM3 is a small open model from Hugging Face, built for local use. The licence is Apache 2.0."


def test_instruction_text_is_never_a_headline():
    assert fields.headline("One line", RATIONALE, INSTRUCTIONS) == "SmolLM3 is a small open model from Hugging Face"


def test_the_tools_bare_or_clipped_name_is_not_a_headline():
    opening = "SmolLM3 is a small open model from Hugging Face"
    assert fields.headline("Mistral Small 3.", RATIONALE, INSTRUCTIONS, "Mistral Small 3.1") == opening
    assert fields.headline("SmolLM3", RATIONALE, INSTRUCTIONS, "SmolLM3") == opening
    assert fields.headline("Mistral Small for vision", RATIONALE, INSTRUCTIONS, "Mistral Small 3.1") == (
        "Mistral Small for vision")


def test_a_headline_cut_mid_clause_is_trimmed_to_where_it_can_end():
    cut = "A 10B high-end AI product from Mistral Artificial Intelligence (MAI) that"
    expected = "A 10B high-end AI product from Mistral Artificial Intelligence (MAI)"
    assert fields.headline(cut, RATIONALE, INSTRUCTIONS) == expected
    assert fields.headline("Worth shipping, with", RATIONALE, INSTRUCTIONS) == "Worth shipping"
    seen = "Skepticism: This tool seems to be based on a lot of assumptions about what"
    expected = "Skepticism: This tool seems to be based on a lot of assumptions"
    assert fields.headline(seen, RATIONALE, INSTRUCTIONS) == expected


def test_a_good_headline_is_kept_and_a_long_one_shortened():
    assert fields.headline("Ships well", RATIONALE, INSTRUCTIONS) == "Ships well"
    long = " ".join(["word"] * 30)
    assert len(fields.headline(long, RATIONALE, INSTRUCTIONS).split()) <= fields.MAX_HEADLINE_WORDS


def test_list_items_are_short_phrases_not_numbers_or_yes_no():
    seen = ["6", "8", "1584967", "no", "yes", "vendor lock-in", "a whole sentence that goes on far too long to be a "
                                                                "phrase"]
    assert fields.items(seen, block=BLOCK, grounded=False) == ["vendor lock-in"]


def test_competitors_must_be_named_in_the_brief_and_not_be_the_tool_itself():
    seen = ["Huffington Post", "TikTok", "Amazon", "Qwen2.5-3B", "SmolLM3", "Hugging Face"]
    assert fields.items(seen, block=BLOCK, grounded=True) == ["Qwen2.5-3B"]
    assert fields.items(["Mozilla"], block=BLOCK, grounded=True) == []  # an empty list beats an invented one


def test_the_brief_is_found_between_its_fences():
    prompt = [{"role": "system", "content": "x"},
              {"role": "user", "content": "<<<BRIEF-0123456789>>>\nname: T\n<<<END-BRIEF-0123456789>>>\nJudge."}]
    assert fields.brief_text(prompt) == "name: T"
