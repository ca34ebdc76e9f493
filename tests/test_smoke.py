def test_world_has_demo_users(users):
    assert {"county_admin", "street_a", "street_b", "grid_a1", "grid_b1"} <= set(users)


def test_home_page_in_chinese(client_for):
    response = client_for("grid_a1").get("/")
    assert response.status_code == 200
    assert "登记人员" in response.content.decode()
