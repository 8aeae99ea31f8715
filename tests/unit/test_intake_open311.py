"""Open311 GeoReport v2 mapping of intake: services from the catalog, a request's parameters into intake's
submit command, statuses open/closed, the public view of a case, and the GeoReport error list."""
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.errors import InvalidInput, NotFound
from shared.problems import invalid_params
from services.intake import domain, open311
from services.intake.catalog import default_catalog
from services.intake.models import GeoReportRequest, GeoReportRequestsQuery

CATALOG = default_catalog()


def base(**overrides):
    fields = {"service_code": "property-repair", "first_name": "阿姨", "last_name": "王", "phone": "13812345678",
              "attribute[area]": "shixin", "description": "楼道灯不亮", **overrides}
    return GeoReportRequest.model_validate({k: v for k, v in fields.items() if v is not None})


def command(form):
    return open311.submit_command(form, CATALOG, "counter")


def refused_field(make) -> str:
    """The field a refused request is refused for, whether by its form's model or by the matter's rules."""
    try:
        make()
    except ValidationError as error:
        return invalid_params(error)[0]["name"]
    except InvalidInput as error:
        return error.field
    raise AssertionError("not refused")


# -- statuses -----------------------------------------------------------------------------------------------

def test_every_intake_status_is_open_or_closed_and_done_means_closed():
    assert {open311.open311_status(s) for s in domain.STATUSES} == {"open", "closed"}
    for status in ("resolved", "settled", "called_back", "closed", "rejected"):
        assert open311.open311_status(status) == "closed"
    for status in ("submitted", "supplement_requested", "resubmitted", "accepted", "routed", "in_progress",
                   "reopened"):
        assert open311.open311_status(status) == "open"
    assert set(open311.statuses_for(("open",))) | set(open311.statuses_for(("closed",))) == set(domain.STATUSES)
    assert set(open311.statuses_for(("open", "closed"))) == set(domain.STATUSES)
    assert open311.statuses_for(()) is None
    assert refused_field(lambda: GeoReportRequestsQuery.model_validate({"status": "open,pending"})) == "status[1]"


# -- services -----------------------------------------------------------------------------------------------

def test_services_are_the_online_matters_with_spec_fields():
    services = open311.services_view(CATALOG)
    online = [m for m in CATALOG.matters.values() if "online" in m.channels]
    assert len(services) == len(online) >= 180
    first = services[0]
    assert set(first) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert first["type"] == "realtime" and first["metadata"] is True
    codes = {s["service_code"] for s in services}
    assert "property-repair" in codes and "social-insurance-card-activate" not in codes  # counter only


def test_definition_lists_area_first_then_the_matters_attributes():
    definition = open311.definition_view(CATALOG, "property-repair")
    attrs = definition["attributes"]
    assert attrs[0]["code"] == "area" and attrs[0]["required"] is True and attrs[0]["order"] == 1
    location = attrs[1]
    assert location["code"] == "location" and location["datatype"] == "singlevaluelist"
    assert {"key": "stairwell", "name": "楼道"} in location["values"]
    assert set(location) == {"variable", "code", "datatype", "required", "datatype_description", "order",
                             "description", "values"}
    with pytest.raises(NotFound):
        open311.definition_view(CATALOG, "no-such-service")
    with pytest.raises(NotFound):
        open311.definition_view(CATALOG, "social-insurance-card-activate")


# -- POST requests.json → intake's submit command -------------------------------------------------------------

def test_a_request_becomes_intakes_submit_command_on_the_online_channel():
    cmd = command(base(**{"attribute[location]": "stairwell", "address_string": "12号楼3单元",
                          "phone": "+86 138-1234-5678"}))
    assert cmd.matter_code == "property-repair" and cmd.channel == "online" and cmd.entered_by == "counter"
    assert cmd.resident == domain.ResidentDetails(name="王阿姨", phone="13812345678", area="shixin")
    assert cmd.attributes == {"location": "stairwell"}
    matter = CATALOG.get("property-repair")
    assert domain.check_against_matter(cmd, matter) == {"location": "stairwell"}
    # the address is kept for the workers and never shown publicly
    assert "12号楼3单元" in cmd.description
    assert open311.public_description(cmd.description) == "楼道灯不亮"


def test_area_as_extension_field_and_latin_names():
    cmd = command(base(**{"attribute[area]": None, "area": "meiyuan", "first_name": "Ann", "last_name": "Lee"}))
    assert cmd.resident.area == "meiyuan" and cmd.resident.name == "Ann Lee"


@pytest.mark.parametrize("overrides, field", [
    ({"attribute[area]": None}, "area"),
    ({"attribute[area]": "Shi Xin"}, "area"),
    ({"attribute[area]": "shixin", "area": "meiyuan"}, "area"),
    ({"attribute[colour]": "red"}, "attributes.colour"),
    ({"first_name": None, "last_name": None}, "first_name"),
    ({"first_name": "阿" * 30, "last_name": "王" * 30}, "first_name"),
    ({"phone": None}, "phone"),
    ({"phone": "12345"}, "phone"),
    ({"service_code": None}, "service_code"),
    ({"email": "not-an-address"}, "email"),
    ({"description": "x" * 1701}, "description"),
    ({"lat": "31.2", "device_id": "abc"}, None),  # accepted and ignored
])
def test_bad_requests_name_the_field(overrides, field):
    if field is None:
        command(base(**overrides))
    else:
        assert refused_field(lambda: command(base(**overrides))) == field


def test_unknown_or_offline_service_code_is_not_found():
    for code in ("no-such-service", "social-insurance-card-activate"):
        with pytest.raises(NotFound):
            command(base(service_code=code))


def test_attribute_values_are_validated_against_the_matter():
    matter = CATALOG.get("ltc-insurance-assessment")
    required = command(base(service_code="ltc-insurance-assessment"))
    with pytest.raises(InvalidInput) as raised:
        domain.check_against_matter(required, matter)
    assert open311.open311_field(raised.value.field) == "attribute[care_setting]"
    bad = command(base(service_code="ltc-insurance-assessment", **{"attribute[care_setting]": "moon"}))
    with pytest.raises(InvalidInput):
        domain.check_against_matter(bad, matter)
    good = command(base(service_code="ltc-insurance-assessment", **{"attribute[care_setting]": "home"}))
    assert domain.check_against_matter(good, matter) == {"care_setting": "home"}


def test_attribute_datatypes_are_typed_from_form_text():
    assert open311._typed("n", "number", ["3"]) == 3
    assert open311._typed("n", "number", ["2.5"]) == 2.5
    with pytest.raises(InvalidInput):
        open311._typed("n", "number", ["three"])
    with pytest.raises(InvalidInput):
        open311._typed("n", "number", ["nan"])
    assert open311._typed("m", "multivaluelist", ["a", "b"]) == ["a", "b"]
    assert open311._typed("m", "multivaluelist", ["a,b"]) == ["a", "b"]
    with pytest.raises(InvalidInput):
        open311._typed("s", "string", ["a", "b"])


def test_form_keys_and_a_json_object_take_the_same_shape():
    as_form = base(**{"attribute[location][]": ["roof", "roof"], "building": ["12", "12"], "email": ""})
    as_json = GeoReportRequest.model_validate({"service_code": "property-repair", "last_name": "王", "phone":
                                               "13812345678", "building": "12",
                                               "attribute": {"area": "shixin", "location": "roof"}})
    assert as_form.attribute == {"area": ["shixin"], "location": ["roof", "roof"]} and as_form.building == "12"
    assert as_form.email is None  # a blank parameter is an absent one
    assert as_json.attribute == {"area": ["shixin"], "location": ["roof"]}
    assert refused_field(lambda: GeoReportRequest.model_validate(["not", "an", "object"])) == "(body)"
    assert refused_field(lambda: base(building=["12", "13"])) == "building"
    assert refused_field(lambda: base(unknown="x")) == "unknown"


def test_jurisdiction_is_this_street_when_given():
    open311.check_jurisdiction(None, "lujiazui")
    open311.check_jurisdiction("lujiazui", "lujiazui")
    with pytest.raises(InvalidInput) as raised:
        open311.check_jurisdiction("huamu", "lujiazui")
    assert raised.value.field == "jurisdiction_id"


# -- GET requests -------------------------------------------------------------------------------------------

def query(**params):
    return GeoReportRequestsQuery.model_validate(params)


def test_query_ids_override_the_other_filters_and_window_defaults_to_90_days():
    now = datetime(2026, 11, 23, tzinfo=timezone.utc)
    by_id = open311.request_query(query(service_request_id="a, b", status="open"), now)
    assert by_id["ids"] == ["a", "b"] and by_id["statuses"] is None
    default = open311.request_query(query(), now)
    assert default["submitted_from"] == now - timedelta(days=90) and default["submitted_to"] is None
    found = open311.request_query(query(service_code="property-repair,senior-card", status="closed",
                                        start_date="2026-11-01T00:00:00+08:00", end_date="2026-11-20T00:00:00Z"), now)
    assert found["matter_codes"] == ["property-repair", "senior-card"]
    assert set(found["statuses"]) == set(open311.CLOSED_STATUSES)
    repeated = open311.request_query(query(status=["open", "closed"], service_code=["a", "b,c"]), now)
    assert set(repeated["statuses"]) == set(domain.STATUSES) and repeated["matter_codes"] == ["a", "b", "c"]
    for bad, field in [({"start_date": "yesterday"}, "start_date"),
                       ({"start_date": "2026-11-20T00:00:00Z", "end_date": "2026-11-01T00:00Z"}, "end_date"),
                       ({"start_date": "0001-01-01T00:00:00+14:00"}, "start_date"),
                       ({"service_request_id": ",".join(str(n) for n in range(101))}, "service_request_id"),
                       ({"service_code": "Not A Code"}, "service_code[0]")]:
        assert refused_field(lambda: query(**bad)) == field


def test_public_view_of_a_case_carries_no_personal_data():
    at = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    case = {"id": "c1", "matter_code": "property-repair", "status": "rejected", "area": "shixin",
            "description": "楼道灯不亮，打13812345678" + open311.ADDRESS_MARK + "12号楼301室",
            "resident_id": "r1", "lead_unit": "", "submitted_at": at, "updated_at": at.isoformat(),
            "reason": "王阿姨不住本居民区", "missing_materials": []}
    view = open311.request_view(CATALOG, case)
    assert view["status"] == "closed" and view["status_notes"] == "不予受理"
    assert view["address"] == "shixin" and view["service_name"] == "物业报修"
    assert view["requested_datetime"] == "2026-11-23T16:00:00+08:00"
    text = repr(view)
    for secret in ("13812345678", "301", "王阿姨", "r1"):
        assert secret not in text


# -- errors -------------------------------------------------------------------------------------------------

def test_errors_are_the_georeport_list_with_open311_field_names():
    assert open311.errors(404, "service_code 'x' not found") == [{"code": 404,
                                                                  "description": "service_code 'x' not found"}]
    problem = {"type": "about:blank", "title": "Invalid request", "status": 400, "detail": "phone: bad",
               "invalid_params": [{"name": "phone", "reason": "must be an 11-digit mobile number"},
                                  {"name": "attribute.location[0]", "reason": "must be text"},
                                  {"name": "matter_code", "reason": "is not in the matter catalog"}]}
    assert open311.errors_from_problem(problem) == [
        {"code": 400, "description": "phone: must be an 11-digit mobile number"},
        {"code": 400, "description": "attribute[location]: must be text"},
        {"code": 400, "description": "service_code: is not in the matter catalog"}]
    assert open311.errors_from_problem({"title": "Unauthorized", "status": 401, "detail": "api_key is required"}) \
        == [{"code": 401, "description": "api_key is required"}]
    assert open311.errors_from_problem({"title": "Internal error", "status": 500, "detail": "logged",
                                        "correlation_id": "abc123"}) == [
        {"code": 500, "description": "logged (correlation id abc123)"}]
    assert open311.open311_field("attributes.location") == "attribute[location]"
    assert open311.open311_field("matter_code") == "service_code"
