"""The street's holiday calendar over the API: a year the package does not know opens Monday to Friday, a
year the street's holidays.yaml supplies is followed, and operators see until when holidays are known."""
import re

import requests

from support.clock import HOLIDAYS_2027
from support.http import base_url


def slots(settings, day):
    answer = requests.get(f"{base_url(settings, 'intake')}/intake/stations/shixin/slots?date={day}", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def covered_until(settings):
    scrape = requests.get(f"{base_url(settings, 'intake')}/metrics", timeout=10).text
    return float(re.search(r"^doorstep_holiday_calendar_covered_until (\S+)$", scrape, re.M).group(1))


def test_a_year_known_to_no_one_opens_monday_to_friday(embedded_settings, start_services):
    settings, _ = start_services(embedded_settings, ["intake"])
    assert slots(settings, "2027-01-04")["open"] is True   # a Monday
    assert slots(settings, "2027-01-01")["open"] is True   # a Friday: New Year unknown without the schedule
    assert slots(settings, "2027-01-02")["open"] is False  # a Saturday
    assert covered_until(settings) == 1798732800.0  # 2027-01-01T00:00+08:00: the package ends with 2026


def test_the_street_schedule_for_2027_wins(embedded_settings, start_services, tmp_path):
    folder = tmp_path / "street"
    folder.mkdir()
    (folder / "holidays.yaml").write_text(HOLIDAYS_2027, "utf-8")
    settings, _ = start_services(embedded_settings.replace(street_dir=str(folder)), ["intake"])
    assert slots(settings, "2027-01-01")["open"] is False  # 元旦
    assert slots(settings, "2027-02-14")["open"] is True   # a Sunday worked instead of a Spring Festival day
    assert covered_until(settings) == 1830268800.0  # 2028-01-01T00:00+08:00
